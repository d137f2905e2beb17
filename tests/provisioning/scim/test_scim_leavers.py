"""A leaver from the identity provider (`active: false` or DELETE): the portal account closes
at once; then HR confirms (SCIM_LEAVERS=confirm) or the offboarding starts (offboard)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import roles
from audit.models import AuditEvent
from provisioning import aws
from provisioning.models import IamAccount, LeaverNotice, Offboarding
from tests import strict_iam
from tests.factories import IamAccountFactory, LeaverNoticeFactory, UserFactory
from tests.provisioning.scim.conftest import user_payload

pytestmark = pytest.mark.django_db


def _deactivate(scim: Any, person: Any) -> Any:
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    return scim("patch", f"/Users/{person.pk}", patch)


def test_confirm_mode_closes_the_account_and_asks_hr_with_a_banner_and_an_email(
    scim: Any, employee: Any, hr_person: Any, client: Client, django_capture_on_commit_callbacks
) -> None:
    account = IamAccountFactory(owner=employee)
    client.force_login(employee)
    with django_capture_on_commit_callbacks(execute=True):
        response = _deactivate(scim, employee)
    assert response.status_code in (200, 204), response.content
    employee.refresh_from_db()
    assert not employee.is_active and employee.employment_status == "left"
    # Signed out at once: the session is gone.
    assert client.get(reverse("my_access")).status_code == 302
    assert not Offboarding.objects.exists()
    account.refresh_from_db()
    assert account.status == IamAccount.Status.ACTIVE
    notice = LeaverNotice.objects.get(person=employee)
    assert notice.source == "scim:okta" and notice.reason == "deactivated"
    [email] = mail.outbox
    assert email.to == [hr_person.email]
    assert email.subject == f"The identity provider says {employee.get_full_name()} has left"
    assert reverse("offboard_person", args=[employee.pk]) in email.body
    left = AuditEvent.objects.get(action="person.left_per_identity_provider")
    assert left.actor_label == "scim:okta"
    assert AuditEvent.objects.get(action="person.deactivated").actor_label == "scim:okta"
    hr = Client()
    hr.force_login(hr_person)
    page = hr.get(reverse("people_directory")).content.decode()
    assert "The identity provider says 1 person has left." in page
    leavers = hr.get(reverse("idp_leavers")).content.decode()
    assert employee.email in leavers


def test_once_hr_offboards_the_leaver_the_notice_is_done(
    hr_person: Any, client: Client, aws: None
) -> None:
    leaver = UserFactory(is_active=False)
    LeaverNoticeFactory(person=leaver)
    client.force_login(hr_person)
    assert "1 person has left" in client.get(reverse("people_directory")).content.decode()
    response = client.post(reverse("offboard_person", args=[leaver.pk]), {"mode": "delete"})
    assert response.status_code == 302
    page = client.get(reverse("idp_leavers")).content.decode()
    assert "Nobody to confirm" in page
    assert "has left." not in page


def test_offboard_mode_tears_the_iam_user_down_in_aws_order(
    scim: Any,
    employee: Any,
    hr_person: Any,
    settings: Any,
    strict_teardown: Any,
    django_capture_on_commit_callbacks,
) -> None:
    settings.SCIM_LEAVERS = "offboard"
    strict_iam.load_user("erin")
    IamAccountFactory(owner=employee, user_name="erin")
    strict_teardown.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _deactivate(scim, employee)
    assert response.status_code in (200, 204), response.content
    offboarding = Offboarding.objects.get(person=employee)
    assert offboarding.started_by is None and offboarding.started_via == "scim:okta"
    assert offboarding.status == Offboarding.Status.COMPLETED, offboarding.failure_reason
    assert strict_teardown.refused == []
    assert not aws.read_user("erin").exists
    changes = [c for c in strict_teardown.operations("erin") if not c.startswith(("Get", "List"))]
    assert changes[0] == "DeleteLoginProfile" and changes[-1] == "DeleteUser"
    started = AuditEvent.objects.get(action="offboarding.started")
    assert started.actor_label == "scim:okta"
    employee.refresh_from_db()
    assert not employee.is_active
    assert not LeaverNotice.objects.exists()
    report = next(m for m in mail.outbox if hr_person.email in m.to)
    assert "the identity provider (scim:okta)" in report.body


def test_a_privileged_leaver_is_closed_at_once_but_aws_waits_for_a_security_admin(
    scim: Any, security_admin: Any, settings: Any, aws: None, django_capture_on_commit_callbacks
) -> None:
    settings.SCIM_LEAVERS = "offboard"
    auditor = UserFactory(email="auditor-two@example.com", roles=[roles.AUDITORS])
    with django_capture_on_commit_callbacks(execute=True):
        response = scim("put", f"/Users/{auditor.pk}", user_payload(auditor.email, active=False))
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    auditor.refresh_from_db()
    assert not auditor.is_active
    offboarding = Offboarding.objects.get(person=auditor)
    assert offboarding.status == Offboarding.Status.AWAITING_CONFIRMATION
    assert any(security_admin.email in m.to for m in mail.outbox)
    client = Client()
    client.force_login(security_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("offboarding_confirm", args=[offboarding.pk]))
    offboarding.refresh_from_db()
    assert offboarding.confirmed_by == security_admin
    assert offboarding.status == Offboarding.Status.COMPLETED


def test_delete_closes_the_account_and_scim_no_longer_finds_the_user(
    scim: Any, employee: Any
) -> None:
    assert scim("delete", f"/Users/{employee.pk}").status_code == 204
    employee.refresh_from_db()
    assert not employee.is_active
    assert LeaverNotice.objects.get(person=employee).reason == "deleted"
    assert scim("get", f"/Users/{employee.pk}").status_code == 404
    assert (
        scim("get", "/Users", filter=f'userName eq "{employee.email}"').json()["totalResults"] == 0
    )


def test_the_leavers_page_costs_the_same_queries_whatever_their_number(
    hr_person: Any, client: Client, django_assert_max_num_queries: Any
) -> None:
    client.force_login(hr_person)
    LeaverNoticeFactory.create_batch(2)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("idp_leavers")).status_code == 200
    LeaverNoticeFactory.create_batch(30)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("idp_leavers")).status_code == 200
