"""Extending a grant: asked from My access, approved like a request (the same route, the
second approval for sensitive role-groups, the separation of duties), capped at the maximum
from today; the grant keeps its history. A request for a role-group held until an end date
is offered as an extension."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.errors import DecisionNotAllowed, ExtensionOffered, RequestInvalid
from provisioning.lifecycle.ending import grant_revoke
from provisioning.lifecycle.extend import grant_extension_request
from provisioning.models import AccessRequest, Grant
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.plan import access_request_plan
from tests.factories import RoleGroupFactory, UserFactory
from tests.provisioning.lifecycle.conftest import JUSTIFICATION

pytestmark = pytest.mark.django_db
Status = AccessRequest.Status


def _days(n: int) -> Any:
    return timezone.localdate() + timedelta(days=n)


def test_an_approved_extension_moves_the_end_of_the_same_grant(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    role_group = RoleGroupFactory(managed_policy_arns=[], max_duration_days=60)
    grant = grant_access(employee, manager, role_group=role_group, end_date=_days(5))
    with run_on_commit():
        extension = grant_extension_request(
            grant_id=grant.pk, requester=employee, justification=JUSTIFICATION, end_date=_days(40)
        )
    assert extension.kind == AccessRequest.Kind.EXTENSION
    assert extension.first_approver == manager and extension.grant_id == grant.pk
    assert any("an extension of access held now" in m.body for m in mail.outbox)

    with run_on_commit():
        access_request_approve(access_request_id=extension.pk, actor=manager)

    extension.refresh_from_db()
    assert extension.status == Status.ACTIVE
    (after,) = Grant.objects.filter(iam_account=grant.iam_account)
    assert after.pk == grant.pk and after.granted_at == grant.granted_at
    assert after.ends_on == _days(40) and after.state == Grant.State.ACTIVE
    event = AuditEvent.objects.get(action="grant.extended")
    assert event.data["from"]["ends_on"] == _days(5).isoformat()
    assert event.data["to"]["ends_on"] == _days(40).isoformat()
    assert any("is extended" in m.subject for m in mail.outbox)


def test_an_extension_is_capped_at_the_maximum_from_today_and_must_be_later(
    grant_access: Any, employee: Any, manager: Any
) -> None:
    role_group = RoleGroupFactory(managed_policy_arns=[], max_duration_days=30)
    grant = grant_access(employee, manager, role_group=role_group, end_date=_days(10))

    with pytest.raises(RequestInvalid, match="at most 30 days from today"):
        grant_extension_request(
            grant_id=grant.pk, requester=employee, justification=JUSTIFICATION, end_date=_days(31)
        )
    with pytest.raises(RequestInvalid, match="after the current one"):
        grant_extension_request(
            grant_id=grant.pk, requester=employee, justification=JUSTIFICATION, end_date=_days(9)
        )
    # Empty: the longest allowed, counted from today.
    extension = grant_extension_request(
        grant_id=grant.pk, requester=employee, justification=JUSTIFICATION
    )
    assert extension.end_date == _days(30)


def test_a_sensitive_extension_needs_a_security_admins_second_approval(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any, security_admin: Any
) -> None:
    sensitive = RoleGroupFactory(managed_policy_arns=[], sensitive=True, max_duration_days=30)
    grant = grant_access(
        employee, manager, role_group=sensitive, end_date=_days(3), second_approver=security_admin
    )
    extension = grant_extension_request(
        grant_id=grant.pk, requester=employee, justification=JUSTIFICATION, end_date=_days(20)
    )

    with run_on_commit():
        access_request_approve(access_request_id=extension.pk, actor=manager)
    extension.refresh_from_db()
    assert extension.status == Status.AWAITING_SECOND_APPROVAL
    assert Grant.objects.get(pk=grant.pk).ends_on == _days(3)

    with run_on_commit():
        access_request_approve(access_request_id=extension.pk, actor=security_admin)
    assert Grant.objects.get(pk=grant.pk).ends_on == _days(20)


def test_an_extension_inherits_the_separation_of_duties(
    grant_access: Any, employee: Any, manager: Any, security_admin: Any
) -> None:
    grant = grant_access(employee, manager, end_date=_days(3))
    # The manager has just placed the employee in the org chart: they may not decide for them.
    employee.placed_by, employee.placed_at = manager, timezone.now()
    employee.save(update_fields=["placed_by", "placed_at"])

    extension = grant_extension_request(
        grant_id=grant.pk, requester=employee, justification=JUSTIFICATION, end_date=_days(20)
    )

    assert extension.first_approver is None
    assert extension.route == AccessRequest.Route.PLACED_BY_MANAGER
    with pytest.raises(DecisionNotAllowed):
        access_request_approve(access_request_id=extension.pk, actor=manager)
    with pytest.raises(DecisionNotAllowed, match="your own request"):
        access_request_approve(access_request_id=extension.pk, actor=employee)


def test_an_extension_of_access_revoked_meanwhile_is_cancelled(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    grant = grant_access(employee, manager, end_date=_days(3))
    extension = grant_extension_request(
        grant_id=grant.pk, requester=employee, justification=JUSTIFICATION, end_date=_days(20)
    )
    with run_on_commit():
        grant_revoke(grant_id=grant.pk, actor=manager, reason="Project over.")

    extension.refresh_from_db()
    assert extension.status == Status.CANCELLED


def test_asking_again_for_a_role_group_held_until_a_date_is_offered_as_an_extension(
    grant_access: Any, employee: Any, manager: Any, client: Client
) -> None:
    grant = grant_access(employee, manager, end_date=_days(3))
    with pytest.raises(ExtensionOffered) as offered:
        access_request_plan(
            requester=employee,
            access_type="console",
            justification=JUSTIFICATION,
            role_group=grant.role_group,
        )
    assert offered.value.grant_id == grant.pk

    client.force_login(employee)
    response = client.post(
        reverse("request_access"),
        {
            "step": "review",
            "role_group": grant.role_group.pk,
            "access_type": "console",
            "justification": JUSTIFICATION,
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "ask to extend it instead" in page
    assert f'action="{reverse("grant_extend", args=[grant.pk])}"' in page
    assert JUSTIFICATION in page  # what was typed is carried over


def test_the_extend_page_sends_the_request_and_my_access_then_says_it_is_asked(
    grant_access: Any, employee: Any, manager: Any, client: Client
) -> None:
    grant = grant_access(employee, manager, end_date=_days(3))
    client.force_login(employee)
    url = reverse("grant_extend", args=[grant.pk])

    bad = client.post(url, {"end_date": _days(1).isoformat(), "justification": "short"})
    text = bad.content.decode()
    assert "after the current end" in text and "at least 20 characters" in text

    sent = client.post(url, {"end_date": _days(30).isoformat(), "justification": JUSTIFICATION})
    assert sent.status_code == 302
    extension = AccessRequest.objects.get(kind=AccessRequest.Kind.EXTENSION)
    page = client.get(reverse("my_access")).content.decode()
    assert f"Extension asked (#{extension.pk})" in page
    assert "extension" in page
    # Someone else's grant does not exist for them.
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
