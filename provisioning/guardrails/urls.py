from django.urls import path

from provisioning.guardrails.views import compliance, credentials, drift, keys, mfa

urlpatterns = [
    path("my-credentials/", credentials.my_credentials, name="guardrails_my_credentials"),
    path("keys/<int:pk>/rotate/", credentials.rotate_key, name="guardrails_rotate_key"),
    path("mfa/<int:pk>/", mfa.mfa_setup, name="guardrails_mfa"),
    path("help/credentials/", mfa.credentials_help, name="guardrails_credentials_help"),
    path("guardrails/keys/", keys.access_keys, name="guardrails_keys"),
    path("guardrails/keys/<int:pk>/extend/", keys.access_key_extend, name="guardrails_key_extend"),
    path("guardrails/drift/", drift.drift, name="guardrails_drift"),
    path("guardrails/drift/scan/", drift.drift_scan_now, name="guardrails_drift_scan"),
    path("guardrails/drift/<int:pk>/", drift.drift_finding_detail, name="guardrails_drift_finding"),
    path("guardrails/compliance/", compliance.compliance, name="guardrails_compliance"),
    path(
        "guardrails/compliance/check/",
        compliance.compliance_check_now,
        name="guardrails_compliance_check",
    ),
    path(
        "guardrails/password-policy/",
        compliance.password_policy,
        name="guardrails_password_policy",
    ),
]
