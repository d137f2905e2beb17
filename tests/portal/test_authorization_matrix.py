"""Every URL the project defines, tried by every role.

A row says, per role, what a GET (or the row's method) must answer. Anonymous visitors of a
protected page are sent to sign-in. A URL added without a row fails `test_every_url_has_a_row`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import roles
from tests.factories import (
    AccessKeyRecordFactory,
    AccessRequestFactory,
    AccessReviewFactory,
    DriftFindingFactory,
    GrantFactory,
    IamAccountFactory,
    OffboardingFactory,
    OffboardingScheduleFactory,
    ReviewItemFactory,
    ScimTokenFactory,
)

ROLES = ("anonymous", "employee", "manager", "hr", "security", "auditor")

OK = 200
FORBIDDEN = 403
NOT_FOUND = 404
NOT_ALLOWED = 405
UNAUTHORIZED = 401
LOGIN = "login"  # a redirect to the sign-in page
REDIRECT = "redirect"  # a redirect elsewhere (e.g. home to the role's page)


@dataclass
class Row:
    expected: dict[str, object]
    method: str = "get"
    kwargs: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda objects: {})
    data: dict[str, Any] = field(default_factory=dict)
    # Checked after the request: what a refused role must not have changed.
    after: Callable[[dict[str, Any], str], None] | None = None


def everyone(outcome: object, **overrides: object) -> dict[str, object]:
    return {role: overrides.get(role, outcome) for role in ROLES}


def signed_in(outcome: object, anonymous: object = LOGIN, **overrides: object) -> dict[str, object]:
    return {"anonymous": anonymous, **everyone(outcome, **overrides), **{"anonymous": anonymous}}


def only(roles: set[str], allowed: object = OK) -> dict[str, object]:
    return {
        role: (LOGIN if role == "anonymous" else allowed if role in roles else FORBIDDEN)
        for role in ROLES
    }


# Offboarding reports are evidence: HR, security admins and auditors read them.
EVIDENCE = {"hr", "security", "auditor"}


def _assert_status(access_request: Any, status: str) -> None:
    access_request.refresh_from_db()
    assert access_request.status == status


def _assert_token_revoked(token: Any, revoked: bool) -> None:
    token.refresh_from_db()
    assert (token.revoked_at is not None) is revoked


def _assert_review_decision(item: Any, decision: str) -> None:
    item.refresh_from_db()
    assert item.decision == decision


def _assert_schedule_status(schedule: Any, status: str) -> None:
    schedule.refresh_from_db()
    assert schedule.status == status


def _assert_invited(person: Any, invited: bool) -> None:
    from audit.models import AuditEvent

    sent = AuditEvent.objects.filter(action="person.invited", target=f"person:{person.pk}")
    assert sent.exists() is invited


def _assert_offboarding_status(offboarding: Any, status: str) -> None:
    offboarding.refresh_from_db()
    assert offboarding.status == status


MATRIX: dict[str, Row] = {
    "home": Row(signed_in(OK)),
    "preferences": Row(signed_in(OK)),
    "healthz": Row(everyone((200, 503))),
    "readyz": Row(everyone((200, 503))),
    "my_access": Row(signed_in(OK)),
    "request_access": Row(signed_in(OK)),
    "approvals": Row(only({"manager", "security"})),
    "operations": Row(only({"security"})),
    "catalogue": Row(only({"security"})),
    "my_access_live": Row(signed_in(OK)),
    # Cancelling: only the requester; anyone else is told there is no such request.
    "access_request_cancel": Row(
        signed_in(REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["pending_request"].pk},
        after=lambda o, role: _assert_status(
            o["pending_request"], "cancelled" if role == "employee" else "pending"
        ),
    ),
    "approvals_decide": Row(
        only({"manager", "security"}, allowed=REDIRECT),
        method="post",
        data={"approve_one": "1"},
    ),
    "approvals_history": Row(only({"manager", "security"})),
    # Rejecting: the requester's manager only; a request outside one's reports is not found.
    "approvals_reject": Row(
        only({"manager"}),
        kwargs=lambda o: {"pk": o["pending_request"].pk},
    ),
    "operations_retry": Row(
        only({"security"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["failed_request"].pk},
    ),
    "operations_reissue": Row(
        only({"security"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["iam_account"].pk},
    ),
    # A credential link opens for its recipient only; to anyone else it does not exist.
    "credential_link": Row(
        signed_in(NOT_FOUND, employee=OK), kwargs=lambda o: {"token": o["credential_token"]}
    ),
    "catalogue_create": Row(only({"security"})),
    "catalogue_edit": Row(only({"security"}), kwargs=lambda o: {"pk": o["role_group"].pk}),
    "catalogue_sync": Row(only({"security"}, allowed=REDIRECT), method="post"),
    "offboard_person": Row(only({"hr"}), kwargs=lambda o: {"person_id": o["leaver"].pk}),
    "person_access": Row(only({"hr"}), kwargs=lambda o: {"person_id": o["leaver"].pk}),
    "offboarding_detail": Row(only(EVIDENCE), kwargs=lambda o: {"pk": o["offboarding"].pk}),
    # A privileged person's offboarding: only a security admin (not the leaver, not the HR
    # person who asked) confirms or declines it.
    "offboarding_confirm": Row(
        only({"security"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["privileged_offboarding"].pk},
        after=lambda o, role: _assert_offboarding_status(
            o["privileged_offboarding"],
            "pending" if role == "security" else "awaiting_confirmation",
        ),
    ),
    "offboarding_decline": Row(
        only({"security"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["privileged_offboarding"].pk},
        data={"reason": "Not leaving after all."},
        after=lambda o, role: _assert_offboarding_status(
            o["privileged_offboarding"],
            "declined" if role == "security" else "awaiting_confirmation",
        ),
    ),
    "offboarding_report_json": Row(only(EVIDENCE), kwargs=lambda o: {"pk": o["offboarding"].pk}),
    "offboarding_report_csv": Row(only(EVIDENCE), kwargs=lambda o: {"pk": o["offboarding"].pk}),
    "offboardings": Row(only(EVIDENCE)),
    # Cancelling a scheduled offboarding: HR only; nobody else changes it.
    "offboarding_schedule_cancel": Row(
        only({"hr"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["schedule"].pk},
        after=lambda o, role: _assert_schedule_status(
            o["schedule"], "cancelled" if role == "hr" else "scheduled"
        ),
    ),
    "people_directory": Row(only({"hr"})),
    "person_create": Row(only({"hr"})),
    "person_invite": Row(
        only({"hr"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["invitee"].pk},
        after=lambda o, role: _assert_invited(o["invitee"], role == "hr"),
    ),
    # A link that does not verify: the same "this link no longer works" page for everyone.
    "invitation_accept": Row(
        everyone(410), kwargs=lambda o: {"uidb64": "MQ", "token": "not-a-token"}
    ),
    "people_import": Row(only({"hr"})),
    "person_detail": Row(only({"hr"}), kwargs=lambda o: {"pk": o["people"]["employee"].pk}),
    "person_edit": Row(only({"hr"}), kwargs=lambda o: {"pk": o["people"]["employee"].pk}),
    # SCIM tokens are the security admins'; the leavers the identity provider announced, HR's.
    "scim_tokens": Row(only({"security"})),
    "scim_token_revoke": Row(
        only({"security"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["scim_token"].pk},
        after=lambda o, role: _assert_token_revoked(o["scim_token"], role == "security"),
    ),
    "idp_leavers": Row(only({"hr"})),
    # The SCIM API takes a bearer token only: a session (any role) is no credential.
    "scim_api": Row(everyone(UNAUTHORIZED), kwargs=lambda o: {"path": "Users"}),
    # No identity provider is configured here: nothing to sign out of.
    "sso_logout": Row(everyone(NOT_FOUND), method="post", kwargs=lambda o: {"provider_id": "sso"}),
    # Access over time: one's own grant is extended or given up by its holder only (to anyone
    # else it does not exist); a report's grant is revoked by their manager or a security admin.
    "grants_held": Row(only({"manager", "security"})),
    "grant_extend": Row(signed_in(NOT_FOUND, employee=OK), kwargs=lambda o: {"pk": o["grant"].pk}),
    "grant_relinquish": Row(
        signed_in(NOT_FOUND, employee=OK), kwargs=lambda o: {"pk": o["grant"].pk}
    ),
    "grant_revoke": Row(only({"manager", "security"}), kwargs=lambda o: {"pk": o["grant"].pk}),
    "request_elevation": Row(signed_in(OK)),
    "my_reviews": Row(signed_in(OK)),
    # Deciding a review item: its reviewer (the holder's manager) only; anyone else is refused
    # with a message and nothing changes.
    "review_item_decide": Row(
        signed_in(REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["review_item"].pk},
        data={"decision": "keep"},
        after=lambda o, role: _assert_review_decision(
            o["review_item"], "keep" if role == "manager" else ""
        ),
    ),
    "access_reviews": Row(only({"security", "auditor"})),
    "access_review_new": Row(only({"security"})),
    "access_review_detail": Row(
        only({"security", "auditor"}), kwargs=lambda o: {"pk": o["review_item"].campaign_id}
    ),
    "access_review_report": Row(
        only({"security", "auditor"}), kwargs=lambda o: {"pk": o["review_item"].campaign_id}
    ),
    "access_review_report_csv": Row(
        only({"security", "auditor"}), kwargs=lambda o: {"pk": o["review_item"].campaign_id}
    ),
    "audit_log": Row(only({"security", "auditor"})),
    # Guardrails (issue 11): each person's own MFA and keys; the rest for security admins.
    "guardrails_my_credentials": Row(signed_in(OK)),
    "guardrails_credentials_help": Row(signed_in(OK)),
    "guardrails_mfa": Row(
        signed_in(NOT_FOUND, employee=OK), kwargs=lambda o: {"pk": o["iam_account"].pk}
    ),
    "guardrails_rotate_key": Row(
        signed_in(NOT_FOUND, employee=OK), kwargs=lambda o: {"pk": o["iam_account"].pk}
    ),
    "guardrails_keys": Row(only({"security"})),
    "guardrails_key_extend": Row(
        only({"security"}, allowed=REDIRECT),
        method="post",
        kwargs=lambda o: {"pk": o["key_record"].pk},
        data={"reason": "The nightly batch moves to a role next month."},
    ),
    "guardrails_drift": Row(only({"security"})),
    "guardrails_drift_scan": Row(only({"security"}, allowed=REDIRECT), method="post"),
    "guardrails_drift_finding": Row(
        only({"security"}), kwargs=lambda o: {"pk": o["drift_finding"].pk}
    ),
    "guardrails_compliance": Row(only({"security"})),
    "guardrails_compliance_check": Row(only({"security"}, allowed=REDIRECT), method="post"),
    "guardrails_password_policy": Row(only({"security"})),
    "audit_export": Row(only({"security", "auditor"})),
}

# allauth URL names are the library's; these are the ones a person can reach here.
ALLAUTH_ROWS: dict[str, Row] = {
    "account_login": Row(signed_in(REDIRECT, anonymous=OK)),
    "account_logout": Row(signed_in(OK)),
    "account_inactive": Row(everyone(OK)),
    "account_signup": Row(signed_in(REDIRECT, anonymous=OK)),
    "account_reauthenticate": Row(signed_in(OK)),
    "account_request_reauthentication_code": Row(signed_in(REDIRECT)),
    "account_confirm_reauthentication_code": Row(signed_in(REDIRECT)),
    # Email addresses come from HR: the page sends people back with an explanation.
    "account_email": Row(signed_in(REDIRECT)),
    "account_email_verification_sent": Row(everyone(OK)),
    "account_change_password": Row(signed_in(OK)),
    "account_set_password": Row(signed_in(REDIRECT)),
    "account_reset_password": Row(everyone(OK)),
    "account_confirm_login_code": Row(signed_in(REDIRECT)),
    "account_confirm_email": Row(everyone(OK), kwargs=lambda o: {"key": "not-a-key"}),
    "account_reset_password_from_key_done": Row(everyone(OK)),
    "account_reset_password_from_key": Row(
        everyone(OK), kwargs=lambda o: {"uidb36": "1", "key": "not-a-key"}
    ),
    "account_reset_password_done": Row(everyone(OK)),
    # The identity provider's sign-in (none is configured here, so there is no such app).
    "openid_connect_login": Row(everyone(NOT_FOUND), kwargs=lambda o: {"provider_id": "sso"}),
    "openid_connect_callback": Row(everyone(NOT_FOUND), kwargs=lambda o: {"provider_id": "sso"}),
    # SAML (no IdP is configured here, so there is no such app). The ACS keeps the posted
    # answer and sends the browser on to its finish step, which checks it.
    "saml_login": Row(everyone(NOT_FOUND), kwargs=lambda o: {"organization_slug": "saml"}),
    "saml_acs": Row(everyone(REDIRECT), kwargs=lambda o: {"organization_slug": "saml"}),
    "saml_finish_acs": Row(everyone(NOT_FOUND), kwargs=lambda o: {"organization_slug": "saml"}),
    "saml_sls": Row(everyone(NOT_FOUND), kwargs=lambda o: {"organization_slug": "saml"}),
    "saml_metadata": Row(everyone(NOT_FOUND), kwargs=lambda o: {"organization_slug": "saml"}),
    "socialaccount_login_cancelled": Row(everyone(OK)),
    # allauth answers its error page with 401 (a sign-in that failed).
    "socialaccount_login_error": Row(everyone(UNAUTHORIZED)),
    # Only reachable in the middle of an IdP sign-in; otherwise back to sign-in.
    "socialaccount_signup": Row(everyone(LOGIN)),
    "socialaccount_connections": Row(signed_in(OK)),
    "mfa_index": Row(signed_in(OK)),
    "mfa_authenticate": Row(signed_in(REDIRECT)),
    "mfa_reauthenticate": Row(signed_in(REDIRECT)),
    # Activating MFA asks for the password again first (a fresh sign-in would skip that).
    "mfa_activate_totp": Row(signed_in(REDIRECT)),
    # Nothing to see until the person has set up MFA.
    "mfa_deactivate_totp": Row(signed_in(NOT_FOUND)),
    "mfa_view_recovery_codes": Row(signed_in(NOT_FOUND)),
    "mfa_generate_recovery_codes": Row(signed_in(REDIRECT)),
    "mfa_download_recovery_codes": Row(signed_in(NOT_FOUND)),
}

ALL_ROWS = {**MATRIX, **ALLAUTH_ROWS}


def _named_patterns(patterns: list[Any]) -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _named_patterns(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            if pattern.name is None and _is_named_redirect(pattern):
                # allauth's old /social/... paths: permanent redirects to named URLs (rows).
                continue
            if pattern.name is None:
                raise AssertionError(f"URL {pattern.pattern} has no name: name every URL")
            yield pattern.name


def _is_named_redirect(pattern: URLPattern) -> bool:
    from django.views.generic import RedirectView

    callback = pattern.callback
    target = getattr(callback, "view_initkwargs", {}).get("pattern_name")
    return getattr(callback, "view_class", None) is RedirectView and target in ALL_ROWS


def test_every_url_has_a_row():
    defined = set(_named_patterns(get_resolver().url_patterns))
    missing = sorted(defined - ALL_ROWS.keys())
    assert not missing, f"URLs without a row in the authorization matrix: {missing}"
    stale = sorted(ALL_ROWS.keys() - defined)
    assert not stale, f"rows for URLs that no longer exist: {stale}"


def _outcome(response: Any) -> object:
    if response.status_code in (301, 302):
        location = response["Location"]
        return LOGIN if location.startswith(reverse("account_login")) else REDIRECT
    return response.status_code


def _cases() -> Iterator[Any]:
    for name in sorted(ALL_ROWS):
        for role in ROLES:
            yield pytest.param(name, role, id=f"{name}-{role}")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "role"), list(_cases()))
def test_role_gets_the_designed_answer(name, role, people, matrix_objects, aws):
    row = ALL_ROWS[name]
    client = Client()
    if role != "anonymous":
        client.force_login(people[role])
    url = reverse(name, kwargs=row.kwargs(matrix_objects))
    response = getattr(client, row.method)(url, data=row.data)
    expected = row.expected[role]
    outcome = _outcome(response)
    if isinstance(expected, tuple):
        assert outcome in expected, f"{role} {row.method.upper()} {url}: {outcome}"
    else:
        assert outcome == expected, f"{role} {row.method.upper()} {url}: {outcome}"
    if row.after is not None:
        row.after(matrix_objects, role)


@pytest.fixture
def matrix_objects(people: dict[str, Any]) -> dict[str, Any]:
    """Objects the parametrised URLs point at: the employee's things, seen by every role."""
    from provisioning.credentials.links import credential_link_issue, credential_link_pending
    from provisioning.models import AccessRequest, Offboarding, RoleGroup
    from tests.factories import UserFactory

    employee = people["employee"]
    analysts = RoleGroup.objects.get(name="Analysts")
    developers = RoleGroup.objects.get(name="Developers")
    pending = AccessRequestFactory(
        requester=employee,
        role_group=analysts,
        access_type="console",
        justification="Read-only access for the quarterly report.",
        iam_user_name="employee",
    )
    failed = AccessRequestFactory(
        requester=employee,
        role_group=developers,
        access_type="console",
        justification="Deploying the billing service to EC2.",
        iam_user_name="employee",
        status=AccessRequest.Status.FAILED,
        failure_reason="LimitExceeded",
    )
    account = IamAccountFactory(owner=employee, user_name="employee")
    link = credential_link_pending(iam_account=account)
    token = credential_link_issue(link=link)
    leaver = UserFactory(email="leaver@example.com", manager=people["manager"])
    offboarding = OffboardingFactory(person=leaver, started_by=people["hr"])
    privileged_leaver = UserFactory(email="auditor-two@example.com", roles=[roles.AUDITORS])
    privileged = OffboardingFactory(
        person=privileged_leaver,
        started_by=people["hr"],
        status=Offboarding.Status.AWAITING_CONFIRMATION,
    )
    from datetime import timedelta

    from django.utils import timezone

    grant = GrantFactory(
        iam_account=account, role_group=analysts, ends_on=timezone.localdate() + timedelta(30)
    )
    review_item = ReviewItemFactory(
        campaign=AccessReviewFactory(started_by=people["security"]), grant=grant
    )
    invitee = UserFactory(email="new.starter@example.com", manager=people["manager"])
    invitee.set_unusable_password()
    invitee.save()
    return {
        "invitee": invitee,
        "schedule": OffboardingScheduleFactory(
            person=UserFactory(email="last.day@example.com"), scheduled_by=people["hr"]
        ),
        "scim_token": ScimTokenFactory(),
        "grant": grant,
        "review_item": review_item,
        "privileged_offboarding": privileged,
        "people": people,
        "pending_request": pending,
        "failed_request": failed,
        "iam_account": account,
        "credential_token": token,
        "role_group": analysts,
        "leaver": leaver,
        "offboarding": offboarding,
        "key_record": AccessKeyRecordFactory(iam_account=account),
        "drift_finding": DriftFindingFactory(),
    }


# Bearer-token APIs: no cookie is a credential there, so a forged cross-site POST has nothing
# to ride on; the token is checked instead (tests/provisioning/scim).
BEARER_ONLY = {"scim_api"}
# SAML's HTTP-POST binding: the identity provider's page posts the answer cross-site, so it
# cannot carry the portal's CSRF token. The answer itself is the check: signed by the IdP's
# certificate and matching a request this browser's session made, once (tests/accounts/
# test_saml.py); the single logout endpoint checks the IdP's signed message likewise.
SAML_POST_BINDING = {"saml_acs", "saml_sls"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ALL_ROWS.keys() - BEARER_ONLY - SAML_POST_BINDING))
def test_no_url_accepts_a_post_without_a_csrf_token(name, people, matrix_objects, aws):
    """CSRF everywhere: a signed-in security admin's POST without a token is refused."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["security"])
    url = reverse(name, kwargs=ALL_ROWS[name].kwargs(matrix_objects))
    response = client.post(url, data={"anything": "1"})
    assert response.status_code == 403, f"POST {url} answered {response.status_code}"
    assert b"CSRF verification failed" in response.content
