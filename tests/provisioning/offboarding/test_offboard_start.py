"""HR's confirming transaction: what ends in the portal the moment HR confirms."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.models import EmploymentStatus, PortalSession
from audit.models import AuditEvent
from provisioning.errors import OffboardingAlreadyRunning, OffboardingNotAllowed
from provisioning.models import (
    AccessRequest,
    Offboarding,
    RoleGroup,
)
from provisioning.offboarding.start import offboarding_start
from tests.factories import (
    AccessRequestFactory,
    CredentialLinkFactory,
    IamAccountFactory,
    UserFactory,
)

PASSWORD = "portal-test-pass"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def _request(person: Any, role_group_name: str, status: str) -> AccessRequest:
    return AccessRequestFactory(
        requester=person,
        role_group=RoleGroup.objects.get(name=role_group_name),
        access_type=AccessRequest.AccessType.CONSOLE,
        justification="work",
        status=status,
    )


def _offboard_by_hr(hr_person: Any, person: Any, mode: str = "delete") -> Any:
    client = Client()
    client.force_login(hr_person)
    return client.post(reverse("offboard_person", args=[person.pk]), {"mode": mode})


def test_the_leaver_cannot_sign_in_the_moment_hr_confirms(
    hr_person: Any, employee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert Client().login(email=employee.email, password=PASSWORD)
    # The worker's AWS teardown is not run here: the portal part alone must shut the door.
    with django_capture_on_commit_callbacks(execute=False):
        response = _offboard_by_hr(hr_person, employee)
    assert response.status_code == 302
    assert not Client().login(email=employee.email, password=PASSWORD)
    sign_in = Client()
    answer = sign_in.post(reverse("account_login"), {"login": employee.email, "password": PASSWORD})
    assert "_auth_user_id" not in sign_in.session
    assert answer["Location"] == reverse("account_inactive")
    employee.refresh_from_db()
    assert not employee.is_active
    assert employee.employment_status == EmploymentStatus.LEFT
    assert employee.left_at is not None


def test_every_session_of_the_leaver_is_ended(hr_person: Any, employee: Any) -> None:
    laptop, phone = Client(), Client()
    laptop.force_login(employee)
    phone.force_login(employee)
    bystander = Client()
    bystander.force_login(UserFactory())
    assert laptop.get(reverse("my_access")).status_code == 200

    _offboard_by_hr(hr_person, employee)

    leftover = [
        s
        for s in PortalSession.objects.all()
        if s.get_decoded().get("_auth_user_id") == str(employee.pk)
    ]
    assert leftover == []
    for device in (laptop, phone):
        response = device.get(reverse("my_access"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert bystander.get(reverse("my_access")).status_code == 200


def test_a_session_the_portal_cannot_list_is_refused_on_its_next_request(
    hr_person: Any, employee: Any, settings: Any
) -> None:
    # Signed-cookie sessions live only in the browser: nothing to delete on the server. The
    # next request is refused all the same, because the account is inactive.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    leaver = Client()
    leaver.force_login(employee)
    assert leaver.get(reverse("my_access")).status_code == 200

    _offboard_by_hr(hr_person, employee)

    response = leaver.get(reverse("my_access"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_open_requests_are_cancelled_and_closed_ones_left_alone(
    hr_person: Any, employee: Any
) -> None:
    pending = _request(employee, "Developers", AccessRequest.Status.PENDING)
    approved = _request(employee, "Analysts", AccessRequest.Status.APPROVED)
    rejected = _request(employee, "Administrators", AccessRequest.Status.REJECTED)

    offboarding = offboarding_start(actor=hr_person, person=employee)

    for access_request in (pending, approved, rejected):
        access_request.refresh_from_db()
    assert pending.status == approved.status == AccessRequest.Status.CANCELLED
    assert rejected.status == AccessRequest.Status.REJECTED
    cancelled = AuditEvent.objects.filter(action="request.cancelled")
    assert {event.target for event in cancelled} == {
        f"access_request:{pending.pk}",
        f"access_request:{approved.pk}",
    }
    assert all(event.data["offboarding"] == offboarding.pk for event in cancelled)


def test_unused_credential_links_are_revoked_and_their_secrets_wiped(
    hr_person: Any, employee: Any
) -> None:
    account = IamAccountFactory(owner=employee, user_name="erin")
    unused = CredentialLinkFactory(
        recipient=employee, iam_account=account, token_hash="a" * 64, sealed_password=b"sealed"
    )
    revealed = CredentialLinkFactory(recipient=employee, iam_account=account, token_hash="b" * 64)
    revealed.revealed_at = revealed.created_at
    revealed.save()

    offboarding_start(actor=hr_person, person=employee, enqueue=False)

    unused.refresh_from_db()
    revealed.refresh_from_db()
    assert unused.revoked_at is not None
    assert unused.sealed_password is None and unused.sealed_secret_key is None
    assert revealed.revoked_at is None
    # One event, one name: the credentials service's `credential.revoked`, saying why.
    event = AuditEvent.objects.get(action="credential.revoked", target=f"iam_account:{account.pk}")
    assert event.data["link"] == unused.pk
    assert event.data["reason"] == "recipient offboarded"
    assert not AuditEvent.objects.filter(action="credential_link.revoked").exists()


def test_reports_move_to_the_leavers_manager_with_their_pending_requests(
    hr_person: Any,
) -> None:
    director = UserFactory(email="director@example.com")
    leaver = UserFactory(email="leaving-manager@example.com", manager=director)
    report = UserFactory(email="report@example.com", manager=leaver)
    waiting = _request(report, "Developers", AccessRequest.Status.PENDING)

    offboarding = offboarding_start(actor=hr_person, person=leaver, enqueue=False)

    report.refresh_from_db()
    assert report.manager == director
    assert waiting.requester.manager == director
    assert offboarding.report["portal"]["reports_moved"] == [
        {
            "id": report.pk,
            "email": "report@example.com",
            "name": report.get_full_name(),
            "new_manager": "director@example.com",
            "pending_requests": 1,
        }
    ]
    moved = AuditEvent.objects.get(action="person.updated", target=f"person:{report.pk}")
    assert moved.data["after"] == {"manager": "director@example.com"}


def test_the_result_page_tells_hr_which_reports_need_a_manager(
    hr_person: Any, manager: Any, employee: Any
) -> None:
    response = _offboard_by_hr(hr_person, manager)
    client = Client()
    client.force_login(hr_person)
    page = client.get(response["Location"]).content.decode()
    assert "need a permanent manager" in page
    assert employee.email in page
    assert reverse("person_edit", args=[employee.pk]) in page


def test_confirming_writes_audit_rows_and_enqueues_the_teardown_after_commit(
    hr_person: Any, employee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        offboarding = offboarding_start(actor=hr_person, person=employee, mode="disable")
    assert len(callbacks) == 1
    assert offboarding.mode == Offboarding.Mode.DISABLE
    assert offboarding.status == Offboarding.Status.PENDING
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"offboarding.started", "person.deactivated"} <= actions
    started = AuditEvent.objects.get(action="offboarding.started")
    assert started.actor_id == hr_person.pk
    assert started.data["email"] == employee.email


def test_hr_cannot_offboard_themselves(hr_person: Any) -> None:
    with pytest.raises(OffboardingNotAllowed):
        offboarding_start(actor=hr_person, person=hr_person)
    hr_person.refresh_from_db()
    assert hr_person.is_active


def test_someone_without_the_permission_cannot_offboard(security_admin: Any, employee: Any) -> None:
    with pytest.raises(OffboardingNotAllowed):
        offboarding_start(actor=security_admin, person=employee)
    employee.refresh_from_db()
    assert employee.is_active


def test_a_second_offboarding_waits_for_the_first_to_finish(hr_person: Any, employee: Any) -> None:
    offboarding_start(actor=hr_person, person=employee, enqueue=False)
    other_hr = UserFactory(roles=[roles.HR])
    with pytest.raises(OffboardingAlreadyRunning):
        offboarding_start(actor=other_hr, person=employee, enqueue=False)
    assert Offboarding.objects.filter(person=employee).count() == 1
