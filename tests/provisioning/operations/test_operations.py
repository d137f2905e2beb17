"""The operations page: failed and stuck requests with their reasons and a retry button,
uncollected credentials and re-issuing, for security admins only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.models import AccessRequest, CredentialLink
from tests.factories import UserFactory, issued_link
from tests.provisioning.strict_onboarding import approved_request

pytestmark = pytest.mark.django_db

Status = AccessRequest.Status
REASON = "AWS refused to create the IAM user: the account has reached an IAM quota."


def _client(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _failed(person: Any, reason: str = REASON) -> AccessRequest:
    access_request = approved_request(person)
    AccessRequest.objects.filter(pk=access_request.pk).update(
        status=Status.FAILED, failure_reason=reason, attempts=1
    )
    return access_request


# --- Who may use it ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [("employee", 403), ("manager", 403), ("hr", 403), ("auditor", 403), ("security", 200)],
)
def test_only_security_admins_see_the_operations_page(
    people: dict, role: str, expected: int
) -> None:
    assert _client(people[role]).get(reverse("operations")).status_code == expected


@pytest.mark.parametrize("role", ["employee", "manager", "hr", "auditor"])
def test_only_security_admins_retry_or_reissue(people: dict, role: str) -> None:
    access_request = _failed(people["employee"])
    link, _ = issued_link(people["employee"])
    client = _client(people[role])

    assert client.post(reverse("operations_retry", args=[access_request.pk])).status_code == 403
    reissue = reverse("operations_reissue", args=[link.iam_account_id])
    assert client.post(reissue).status_code == 403
    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert not AuditEvent.objects.filter(action="credential.reissued").exists()


def test_signed_out_visitors_are_sent_to_sign_in(employee: Any) -> None:
    access_request = _failed(employee)
    for response in (
        _client(None).get(reverse("operations")),
        _client(None).post(reverse("operations_retry", args=[access_request.pk])),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_retry_and_reissue_need_post(security_admin: Any, employee: Any) -> None:
    access_request = _failed(employee)
    client = _client(security_admin)

    assert client.get(reverse("operations_retry", args=[access_request.pk])).status_code == 405
    assert client.get(reverse("operations_reissue", args=[1])).status_code == 405


# --- What it shows ----------------------------------------------------------------------------


def test_failed_and_stuck_requests_are_listed_with_their_reasons(
    security_admin: Any, employee: Any, manager: Any
) -> None:
    failed = _failed(employee)
    stuck = approved_request(manager)
    AccessRequest.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_STALE_SECONDS + 5)
    )
    fresh = approved_request(UserFactory())

    page = _client(security_admin).get(reverse("operations")).content.decode()

    assert REASON in page
    assert f"#{failed.pk}" in page and f"#{stuck.pk}" in page
    assert "never picked up by a worker" in page
    assert f"#{fresh.pk}<" not in page
    assert reverse("operations_retry", args=[failed.pk]) in page


def test_an_empty_page_says_nothing_needs_attention(security_admin: Any) -> None:
    page = _client(security_admin).get(reverse("operations")).content.decode()

    assert "Nothing needs attention" in page


def test_expired_uncollected_links_offer_a_reissue(security_admin: Any, employee: Any) -> None:
    link, _ = issued_link(employee)
    CredentialLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(1))

    page = _client(security_admin).get(reverse("operations")).content.decode()

    assert "Credentials never collected" in page
    assert reverse("operations_reissue", args=[link.iam_account_id]) in page


def test_an_unconfirmed_credential_email_offers_a_reissue(
    security_admin: Any, employee: Any
) -> None:
    link, _ = issued_link(employee)
    access_request = approved_request(employee)
    AccessRequest.objects.filter(pk=access_request.pk).update(
        status=Status.ACTIVE,
        iam_account=link.iam_account,
        credential_email_unconfirmed=True,
    )

    page = _client(security_admin).get(reverse("operations")).content.decode()

    assert "email unconfirmed" in page
    assert reverse("operations_reissue", args=[link.iam_account_id]) in page


def test_people_are_found_by_iam_user_name_or_email_for_reissue(
    security_admin: Any, employee: Any
) -> None:
    link, _ = issued_link(employee)

    page = _client(security_admin).get(reverse("operations"), {"q": "employee@"}).content.decode()
    nothing = _client(security_admin).get(reverse("operations"), {"q": "nobody"}).content.decode()

    assert reverse("operations_reissue", args=[link.iam_account_id]) in page
    assert "No active IAM user matches" in nothing


@pytest.mark.parametrize("query", ["Ada", "lovelace", "ADA LOVELACE", "lovelace ada", "ada@"])
def test_people_are_found_by_name_in_any_case_for_reissue(security_admin: Any, query: str) -> None:
    ada = UserFactory(email="ada@example.com", full_name="Ada Lovelace")
    link, _ = issued_link(ada)
    other, _ = issued_link(UserFactory(email="grace@example.com", full_name="Grace Hopper"))

    page = _client(security_admin).get(reverse("operations"), {"q": query}).content.decode()

    assert reverse("operations_reissue", args=[link.iam_account_id]) in page
    assert reverse("operations_reissue", args=[other.iam_account_id]) not in page


def test_a_name_matches_only_when_every_word_does(security_admin: Any) -> None:
    issued_link(UserFactory(email="ada@example.com", full_name="Ada Lovelace"))
    page = _client(security_admin).get(reverse("operations"), {"q": "Ada Hopper"}).content.decode()
    assert "No active IAM user matches" in page


def test_the_page_runs_the_same_queries_for_1_and_200_failed_requests(
    security_admin: Any, employee: Any
) -> None:
    client = _client(security_admin)
    _failed(employee)
    client.get(reverse("operations"))  # warm up the session and permission caches

    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("operations")).status_code == 200
    for _ in range(199):
        _failed(UserFactory())
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("operations")).content.decode()

    assert len(many) == len(one)
    assert "Page 1 of 8" in page


# --- Acting -----------------------------------------------------------------------------------


def test_retry_puts_a_failed_request_back_in_the_queue_on_commit(
    security_admin: Any,
    employee: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from provisioning.tasks import provision_access_request

    access_request = _failed(employee)
    enqueued: list[int] = []
    monkeypatch.setattr(provision_access_request, "delay", enqueued.append)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _client(security_admin).post(
            reverse("operations_retry", args=[access_request.pk]), follow=True
        )
        assert enqueued == []  # not before the commit
    for callback in callbacks:
        callback()

    assert enqueued == [access_request.pk]
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED and access_request.failure_reason == ""
    assert f"Request #{access_request.pk} is queued" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="request.provisioning_retried", actor_id=security_admin.pk
    ).exists()


def test_retrying_a_request_that_is_not_failed_or_stuck_says_so(
    security_admin: Any, employee: Any
) -> None:
    access_request = approved_request(employee)

    response = _client(security_admin).post(
        reverse("operations_retry", args=[access_request.pk]), follow=True
    )

    assert "nothing to retry" in response.content.decode()
