"""Ending a grant early: the holder gives it up; their manager or a security admin revokes it
with a reason. Removal in AWS follows at once (eager here), audited and emailed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from provisioning.errors import GrantNotActive, GrantNotAllowed, GrantNotFound, RequestInvalid
from provisioning.lifecycle.ending import grant_relinquish, grant_revoke
from provisioning.models import Grant
from tests.factories import UserFactory
from tests.provisioning.lifecycle.conftest import iam_groups_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(grant_access: Any, employee: Any, manager: Any) -> Grant:
    grant = grant_access(employee, manager)
    mail.outbox.clear()
    return grant


def test_a_manager_revokes_a_reports_grant_with_a_reason_and_it_leaves_aws(
    held: Grant, manager: Any, employee: Any, run_on_commit: Any
) -> None:
    with run_on_commit():
        grant_revoke(
            grant_id=held.pk, actor=manager, reason="Moved to the data team.", ip="10.0.0.9"
        )

    assert iam_groups_of(held.iam_account.user_name) == []
    held.refresh_from_db()
    assert (held.state, held.end, held.ended_by) == (Grant.State.ENDED, "revoked", manager)
    event = AuditEvent.objects.get(action="grant.revoked")
    assert event.actor_id == manager.pk and event.ip == "10.0.0.9"
    assert event.data["reason"] == "Moved to the data team."
    assert event.data["iam_group"] == held.role_group.iam_group_name
    (ended,) = mail.outbox
    assert sorted(ended.to) == sorted([employee.email, manager.email])
    assert "Moved to the data team." in ended.body


def test_a_security_admin_may_revoke_anyones_grant(
    held: Grant, security_admin: Any, run_on_commit: Any
) -> None:
    with run_on_commit():
        grant_revoke(grant_id=held.pk, actor=security_admin, reason="Incident 42 containment.")
    assert Grant.objects.get(pk=held.pk).ended_by == security_admin


@pytest.mark.parametrize("who", ["holder", "another manager", "hr"])
def test_nobody_else_may_revoke(held: Grant, employee: Any, hr_person: Any, who: str) -> None:
    actor = {
        "holder": employee,
        "another manager": UserFactory(),
        "hr": hr_person,
    }[who]
    UserFactory(manager=actor if who == "another manager" else None)
    with pytest.raises(GrantNotAllowed):
        grant_revoke(grant_id=held.pk, actor=actor, reason="Because.")
    assert Grant.objects.get(pk=held.pk).state == Grant.State.ACTIVE


def test_revoking_needs_a_reason_and_happens_once(
    held: Grant, manager: Any, security_admin: Any
) -> None:
    with pytest.raises(RequestInvalid, match="Give a reason"):
        grant_revoke(grant_id=held.pk, actor=manager, reason="  ")
    grant_revoke(grant_id=held.pk, actor=manager, reason="No longer needed.")
    with pytest.raises(GrantNotActive, match="already being removed"):
        grant_revoke(grant_id=held.pk, actor=security_admin, reason="Also no longer needed.")
    assert AuditEvent.objects.filter(action="grant.revoked").count() == 1


def test_the_holder_gives_up_a_grant_and_nobody_else_can_for_them(
    held: Grant, employee: Any, manager: Any, run_on_commit: Any
) -> None:
    with pytest.raises(GrantNotFound):
        grant_relinquish(grant_id=held.pk, actor=manager)

    with run_on_commit():
        grant_relinquish(grant_id=held.pk, actor=employee)

    held.refresh_from_db()
    assert (held.state, held.end) == (Grant.State.ENDED, Grant.End.RELINQUISHED)
    assert iam_groups_of(held.iam_account.user_name) == []
    assert AuditEvent.objects.get(action="grant.relinquished").actor_id == employee.pk
    assert "gave it up" in mail.outbox[0].body


def test_my_access_offers_give_up_and_the_page_confirms_before_doing_it(
    held: Grant, employee: Any, client: Client, run_on_commit: Any
) -> None:
    client.force_login(employee)
    page = client.get(reverse("my_access")).content.decode()
    url = reverse("grant_relinquish", args=[held.pk])
    assert url in page

    confirm = client.get(url)
    assert confirm.status_code == 200 and "leaves the IAM group" in confirm.content.decode()
    assert Grant.objects.get(pk=held.pk).state == Grant.State.ACTIVE

    with run_on_commit():
        response = client.post(url, follow=True)
    assert "You gave up" in response.content.decode()
    assert Grant.objects.get(pk=held.pk).state == Grant.State.ENDED


def test_the_revoke_page_needs_a_reason_and_says_so(
    held: Grant, manager: Any, client: Client
) -> None:
    client.force_login(manager)
    url = reverse("grant_revoke", args=[held.pk])

    response = client.post(url, {"reason": ""})

    assert response.status_code == 200
    assert "Give a reason for revoking" in response.content.decode()
    assert Grant.objects.get(pk=held.pk).state == Grant.State.ACTIVE


def test_access_held_lists_a_managers_reports_grants_with_a_revoke_link(
    held: Grant, manager: Any, client: Client
) -> None:
    stranger = UserFactory()
    client.force_login(manager)

    page = client.get(reverse("grants_held")).content.decode()
    assert "Your team's access" in page
    assert reverse("grant_revoke", args=[held.pk]) in page

    searched = client.get(reverse("grants_held"), {"q": "nobody-matches-this"}).content.decode()
    assert "No live access matches" in searched
    client.force_login(stranger)
    assert client.get(reverse("grants_held")).status_code == 403
