from django.urls import include, path

from provisioning.catalogue import views as catalogue
from provisioning.credentials import views as credentials
from provisioning.offboarding import views as offboarding
from provisioning.operations import views as operations
from provisioning.requests import views as requests
from provisioning.scim import views as scim

urlpatterns = [
    path("", requests.my_access, name="my_access"),
    path("requests/", requests.my_access_requests, name="my_access_requests"),
    path(
        "requests/<int:pk>/cancel/",
        requests.access_request_cancel_view,
        name="access_request_cancel",
    ),
    path("request/", requests.request_access, name="request_access"),
    path("approvals/", requests.approvals, name="approvals"),
    path("approvals/decide/", requests.approvals_decide, name="approvals_decide"),
    path("approvals/<int:pk>/reject/", requests.approvals_reject, name="approvals_reject"),
    path("approvals/history/", requests.approvals_history, name="approvals_history"),
    path("operations/", operations.operations, name="operations"),
    path(
        "operations/requests/<int:pk>/retry/", operations.operations_retry, name="operations_retry"
    ),
    path(
        "operations/accounts/<int:pk>/reissue/",
        operations.operations_reissue,
        name="operations_reissue",
    ),
    path("credentials/<str:token>/", credentials.credential_link, name="credential_link"),
    path("catalogue/", catalogue.catalogue, name="catalogue"),
    path("catalogue/new/", catalogue.catalogue_create, name="catalogue_create"),
    path("catalogue/<int:pk>/edit/", catalogue.catalogue_edit, name="catalogue_edit"),
    path("catalogue/sync/", catalogue.catalogue_sync_to_aws, name="catalogue_sync"),
    path("people/<int:person_id>/", offboarding.person_access, name="person_access"),
    path("people/<int:person_id>/offboard/", offboarding.offboard_person, name="offboard_person"),
    path("offboarding/<int:pk>/", offboarding.offboarding_detail, name="offboarding_detail"),
    path(
        "offboarding/<int:pk>/confirm/",
        offboarding.offboarding_confirm_view,
        name="offboarding_confirm",
    ),
    path(
        "offboarding/<int:pk>/decline/",
        offboarding.offboarding_decline_view,
        name="offboarding_decline",
    ),
    path(
        "offboarding/<int:pk>/report.json",
        offboarding.offboarding_report_json_download,
        name="offboarding_report_json",
    ),
    path("scim/tokens/", scim.scim_tokens_page, name="scim_tokens"),
    path("scim/tokens/<int:pk>/revoke/", scim.scim_token_revoke_view, name="scim_token_revoke"),
    path("leavers/", scim.idp_leavers, name="idp_leavers"),
    path(
        "offboarding/<int:pk>/report.csv",
        offboarding.offboarding_report_csv_download,
        name="offboarding_report_csv",
    ),
    path("", include("provisioning.guardrails.urls")),
]
