"""Temporary elevation (break-glass): a "temporary only" role-group is asked for in hours,
starts at once when approved, and is removed by the worker at its exact end; both moments
are in the audit trail. Longer needs a new approval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from provisioning.errors import RequestInvalid
from provisioning.lifecycle.elevation import elevation_request
from provisioning.lifecycle.expiry import grants_expire
from provisioning.lifecycle.extend import grant_extension_request
from provisioning.models import AccessRequest, Grant
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.forms import AccessRequestForm
from provisioning.requests.plan import access_request_plan
from tests.factories import RoleGroupFactory
from tests.provisioning.lifecycle.conftest import JUSTIFICATION, iam_groups_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def break_glass(db: None) -> Any:
    return RoleGroupFactory(
        name="Break-glass admins",
        managed_policy_arns=[],
        temporary_only=True,
        max_duration_hours=4,
        sensitive=True,
    )


def test_approved_temporary_access_starts_at_once_and_ends_at_its_exact_hour(
    grant_access: Any,
    run_on_commit: Any,
    break_glass: Any,
    employee: Any,
    manager: Any,
    security_admin: Any,
) -> None:
    before = timezone.now()
    grant = grant_access(
        employee,
        manager,
        role_group=break_glass,
        duration_hours=3,
        second_approver=security_admin,
    )
    user_name = grant.iam_account.user_name
    assert iam_groups_of(user_name) == [break_glass.iam_group_name]
    assert grant.ends_at is not None
    assert timedelta(hours=3) <= grant.ends_at - before < timedelta(hours=3, minutes=1)
    added = AuditEvent.objects.get(action="iam.group.added")
    planned_end = parse_datetime(added.data["ends_at"])
    assert abs(planned_end - grant.ends_at) < timedelta(milliseconds=1)
    assert parse_datetime(added.data["started_at"]) + timedelta(hours=3) == planned_end

    with time_machine.travel(grant.ends_at - timedelta(seconds=30)), run_on_commit():
        assert grants_expire() == []
    with time_machine.travel(grant.ends_at + timedelta(seconds=5)), run_on_commit():
        assert [g.pk for g in grants_expire()] == [grant.pk]

    assert iam_groups_of(user_name) == []
    removed = AuditEvent.objects.get(action="iam.group.removed")
    assert removed.data["ends_at"] == added.data["ends_at"]
    assert parse_datetime(removed.data["ended_at"]) > planned_end
    assert Grant.objects.get(pk=grant.pk).end == Grant.End.EXPIRED


def test_temporary_access_is_asked_for_in_hours_within_its_maximum(
    break_glass: Any, employee: Any
) -> None:
    with pytest.raises(RequestInvalid, match="temporary access"):
        access_request_plan(
            requester=employee,
            access_type="console",
            justification=JUSTIFICATION,
            role_group=break_glass,
        )
    with pytest.raises(RequestInvalid, match="1 to 4 hours"):
        elevation_request(
            requester=employee,
            role_group=break_glass,
            duration_hours=5,
            justification=JUSTIFICATION,
            access_type="console",
        )
    other = RoleGroupFactory()
    with pytest.raises(RequestInvalid, match="Only temporary access"):
        access_request_plan(
            requester=employee,
            access_type="console",
            justification=JUSTIFICATION,
            role_group=other,
            duration_hours=2,
        )


def test_the_usual_request_form_does_not_offer_temporary_role_groups(
    break_glass: Any, employee: Any
) -> None:
    form = AccessRequestForm(requester=employee, has_iam_user=False)
    assert break_glass not in form.fields["role_group"].queryset


def test_longer_temporary_access_needs_a_new_approval_in_hours(
    grant_access: Any,
    run_on_commit: Any,
    break_glass: Any,
    employee: Any,
    manager: Any,
    security_admin: Any,
) -> None:
    grant = grant_access(
        employee, manager, role_group=break_glass, duration_hours=1, second_approver=security_admin
    )
    first_end = grant.ends_at
    with pytest.raises(RequestInvalid, match="leave the end date"):
        grant_extension_request(
            grant_id=grant.pk,
            requester=employee,
            justification=JUSTIFICATION,
            end_date=timezone.localdate() + timedelta(days=1),
        )
    extension = grant_extension_request(
        grant_id=grant.pk, requester=employee, justification=JUSTIFICATION, duration_hours=4
    )
    assert extension.status == AccessRequest.Status.PENDING
    assert Grant.objects.get(pk=grant.pk).ends_at == first_end

    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        with run_on_commit():
            access_request_approve(access_request_id=extension.pk, actor=manager)
        approved_at = timezone.now()
        with run_on_commit():
            access_request_approve(access_request_id=extension.pk, actor=security_admin)

    grant.refresh_from_db()
    # Four hours from the final approval, not from the first grant.
    assert timedelta(hours=4) <= grant.ends_at - approved_at < timedelta(hours=4, minutes=1)


def test_the_temporary_access_page_sends_a_request_for_hours(
    break_glass: Any, employee: Any, manager: Any, client: Client
) -> None:
    client.force_login(employee)
    page = client.get(reverse("request_elevation")).content.decode()
    assert "Break-glass admins (at most 4 hours, two approvals)" in page

    refused = client.post(
        reverse("request_elevation"),
        {"role_group": break_glass.pk, "duration_hours": 9, "justification": JUSTIFICATION},
    )
    assert "at most 4 hours" in refused.content.decode().lower()

    sent = client.post(
        reverse("request_elevation"),
        {
            "role_group": break_glass.pk,
            "duration_hours": 2,
            "justification": JUSTIFICATION,
            "access_type": "console",
        },
    )
    assert sent.status_code == 302
    request = AccessRequest.objects.get(requester=employee)
    assert (request.duration_hours, request.end_date, request.first_approver) == (2, None, manager)
    assert "for 2 hours" in client.get(reverse("my_access")).content.decode()


def test_without_temporary_role_groups_the_page_says_so(client: Client, employee: Any) -> None:
    client.force_login(employee)
    assert (
        "No temporary access is offered"
        in client.get(reverse("request_elevation")).content.decode()
    )
