"""Access reviews end to end (eager worker, in-process moto): a campaign routes each grant to
its reviewer, who keeps or revokes it with the holder's last AWS activity in view; reminders;
at the deadline what nobody reviewed is revoked or escalated; the report is the evidence."""

from __future__ import annotations

import csv
import datetime as dt
import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.errors import AlreadyReviewed, ReviewError, ReviewNotAllowed
from provisioning.lifecycle.review_deadlines import (
    access_review_deadlines_apply,
    access_review_reminders_send,
)
from provisioning.lifecycle.reviews import access_review_start, review_item_decide
from provisioning.models import AccessReview, Grant, ReviewItem
from tests.factories import RoleGroupFactory, UserFactory
from tests.provisioning.lifecycle.conftest import iam_groups_of

pytestmark = pytest.mark.django_db
Decision = ReviewItem.Decision
Route = ReviewItem.Route


@pytest.fixture
def estate(grant_access: Any, employee: Any, manager: Any, security_admin: Any) -> dict[str, Grant]:
    """Grants to review: the employee's ordinary and sensitive ones, a manager-less person's,
    and the security admin's own."""
    ordinary = RoleGroupFactory(name="Reporting", managed_policy_arns=[])
    sensitive = RoleGroupFactory(name="Payments admin", managed_policy_arns=[], sensitive=True)
    orphan = UserFactory(email="orphan@example.com", full_name="Olive Orphan")
    other_admin = UserFactory(email="security-two@example.com", roles=["Security admins"])
    grants = {
        "ordinary": grant_access(employee, manager, role_group=ordinary, access_type="both"),
        "sensitive": grant_access(
            employee,
            manager,
            role_group=sensitive,
            second_approver=security_admin,
            access_type="both",
        ),
        "orphan": grant_access(orphan, security_admin, role_group=ordinary),
        "admin_own": grant_access(security_admin, other_admin, role_group=ordinary),
    }
    mail.outbox.clear()
    return grants


def _start(actor: Any, run_on_commit: Any, **kwargs: Any) -> AccessReview:
    with run_on_commit():
        return access_review_start(
            actor=actor,
            name=kwargs.pop("name", "Q1 access review"),
            deadline=kwargs.pop("deadline", timezone.localdate() + timedelta(days=14)),
            at_deadline=kwargs.pop("at_deadline", AccessReview.AtDeadline.REVOKE),
            **kwargs,
        )


def _item(campaign: AccessReview, grant: Grant) -> ReviewItem:
    return ReviewItem.objects.get(campaign=campaign, grant=grant)


def test_each_grant_goes_to_its_reviewer_never_its_holder_and_reviewers_are_emailed(
    estate: dict[str, Grant], run_on_commit: Any, manager: Any, security_admin: Any
) -> None:
    campaign = _start(security_admin, run_on_commit)

    routes = {
        name: (_item(campaign, grant).reviewer, _item(campaign, grant).route)
        for name, grant in estate.items()
    }
    assert routes == {
        "ordinary": (manager, Route.MANAGER),
        "sensitive": (None, Route.SENSITIVE),
        "orphan": (None, Route.NO_MANAGER),
        "admin_own": (None, Route.NO_MANAGER),
    }
    started = AuditEvent.objects.get(action="review.started")
    assert started.actor_id == security_admin.pk and started.data["items"] == 4
    (to_manager,) = [m for m in mail.outbox if m.to == [manager.email]]
    assert "1 grant to review" in to_manager.subject
    admin_mail = [m for m in mail.outbox if security_admin.email in m.to]
    assert len(admin_mail) == 1 and "3 grants" in admin_mail[0].subject

    # A security admin reviews what is routed to security admins, except their own access.
    page = Client()
    page.force_login(security_admin)
    items = list(page.get(reverse("my_reviews")).context["page_obj"].object_list)
    assert sorted(item.grant_id for item in items) == sorted(
        [estate["sensitive"].pk, estate["orphan"].pk]
    )
    with pytest.raises(ReviewNotAllowed):
        review_item_decide(
            item_id=_item(campaign, estate["admin_own"]).pk, actor=security_admin, decision="keep"
        )
    with pytest.raises(ReviewNotAllowed):
        review_item_decide(
            item_id=_item(campaign, estate["ordinary"]).pk, actor=security_admin, decision="keep"
        )


def test_the_review_page_shows_the_holders_last_aws_activity(
    estate: dict[str, Grant], run_on_commit: Any, manager: Any, security_admin: Any
) -> None:
    from moto.iam.models import AccessKeyLastUsed, iam_backends

    from provisioning import aws

    account = estate["ordinary"].iam_account
    backend = iam_backends["123456789012"]["aws"]
    backend.users[account.user_name].password_last_used = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    (key,) = aws.client().list_access_keys(UserName=account.user_name)["AccessKeyMetadata"]
    backend.access_keys[key["AccessKeyId"]].last_used = AccessKeyLastUsed(
        timestamp=dt.datetime(2026, 11, 20, tzinfo=dt.UTC), service="s3", region="us-east-1"
    )

    campaign = _start(security_admin, run_on_commit)

    item = _item(campaign, estate["ordinary"])
    assert item.console_last_used == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert item.access_key_last_used == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert item.access_key_last_service == "s3"
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("my_reviews")).content.decode()
    assert "Console sign-in: 1 Nov 2026" in page
    assert "Access key used: 20 Nov 2026" in page and "s3" in page
    assert _item(campaign, estate["orphan"]).console_last_used is None


def test_keep_and_revoke_are_recorded_and_revoke_removes_the_access_from_aws(
    estate: dict[str, Grant],
    run_on_commit: Any,
    manager: Any,
    security_admin: Any,
    employee: Any,
) -> None:
    campaign = _start(security_admin, run_on_commit)
    client = Client()
    client.force_login(manager)

    no_reason = client.post(
        reverse("review_item_decide", args=[_item(campaign, estate["ordinary"]).pk]),
        {"decision": "revoke", "reason": ""},
        follow=True,
    )
    assert "Give a reason for revoking" in no_reason.content.decode()
    with run_on_commit():
        client.post(
            reverse("review_item_decide", args=[_item(campaign, estate["ordinary"]).pk]),
            {"decision": "revoke", "reason": "Left the reporting project."},
        )
    item = _item(campaign, estate["ordinary"])
    assert (item.decision, item.decided_by, item.reason) == (
        Decision.REVOKE,
        manager,
        "Left the reporting project.",
    )
    grant = Grant.objects.get(pk=estate["ordinary"].pk)
    assert (grant.state, grant.end, grant.ended_by) == ("ended", "revoked", manager)
    assert iam_groups_of(grant.iam_account.user_name) == [
        estate["sensitive"].role_group.iam_group_name
    ]
    revoked = AuditEvent.objects.get(action="grant.revoked")
    assert revoked.data["review_item"] == item.pk
    assert "Left the reporting project." in revoked.data["reason"]

    with run_on_commit():
        review_item_decide(
            item_id=_item(campaign, estate["sensitive"]).pk, actor=security_admin, decision="keep"
        )
    assert Grant.objects.get(pk=estate["sensitive"].pk).state == Grant.State.ACTIVE
    with pytest.raises(AlreadyReviewed):
        review_item_decide(
            item_id=_item(campaign, estate["sensitive"]).pk,
            actor=security_admin,
            decision="revoke",
            reason="Changed my mind.",
        )
    decided = AuditEvent.objects.filter(action="review.decided").order_by("id")
    assert [e.data["decision"] for e in decided] == ["revoke", "keep"]


def test_at_the_deadline_unreviewed_grants_are_revoked_and_the_campaign_closes(
    estate: dict[str, Grant], run_on_commit: Any, manager: Any, security_admin: Any
) -> None:
    campaign = _start(security_admin, run_on_commit, at_deadline=AccessReview.AtDeadline.REVOKE)
    review_item_decide(
        item_id=_item(campaign, estate["ordinary"]).pk, actor=manager, decision="keep"
    )

    with time_machine.travel(timezone.now() + timedelta(days=14)):
        assert access_review_deadlines_apply() == []
    with time_machine.travel(timezone.now() + timedelta(days=15)), run_on_commit():
        assert [c.pk for c in access_review_deadlines_apply()] == [campaign.pk]
        assert access_review_deadlines_apply() == []

    campaign.refresh_from_db()
    assert campaign.status == AccessReview.Status.CLOSED
    for name in ("sensitive", "orphan", "admin_own"):
        item = _item(campaign, estate[name])
        assert item.decision == Decision.UNREVIEWED and item.decided_by is None
        assert Grant.objects.get(pk=estate[name].pk).state == Grant.State.ENDED
        assert iam_groups_of(estate[name].iam_account.user_name) in (
            [],
            [estate["ordinary"].role_group.iam_group_name],
        )
    assert Grant.objects.get(pk=estate["ordinary"].pk).state == Grant.State.ACTIVE
    assert AuditEvent.objects.filter(action="grant.revoked").count() == 3
    assert AuditEvent.objects.get(action="review.closed").data["decisions"]["unreviewed"] == 3


def test_at_the_deadline_an_escalating_campaign_hands_the_rest_to_the_security_admins(
    estate: dict[str, Grant], run_on_commit: Any, manager: Any, security_admin: Any
) -> None:
    campaign = _start(security_admin, run_on_commit, at_deadline=AccessReview.AtDeadline.ESCALATE)
    mail.outbox.clear()

    with time_machine.travel(timezone.now() + timedelta(days=15)):
        access_review_deadlines_apply()

    item = _item(campaign, estate["ordinary"])
    assert (item.reviewer, item.route, item.decision) == (None, Route.ESCALATED, Decision.PENDING)
    assert Grant.objects.get(pk=estate["ordinary"].pk).state == Grant.State.ACTIVE
    (escalated,) = [m for m in mail.outbox if "escalated" in m.subject]
    assert security_admin.email in escalated.to
    # The manager no longer decides it; a security admin does, and the campaign then closes
    # once nothing is left.
    with pytest.raises(ReviewNotAllowed):
        review_item_decide(item_id=item.pk, actor=manager, decision="keep")
    for name in ("ordinary", "sensitive", "orphan"):
        review_item_decide(
            item_id=_item(campaign, estate[name]).pk, actor=security_admin, decision="keep"
        )
    other = UserFactory(roles=["Security admins"])
    review_item_decide(
        item_id=_item(campaign, estate["admin_own"]).pk, actor=other, decision="keep"
    )
    campaign.refresh_from_db()
    assert campaign.status == AccessReview.Status.CLOSED


def test_reviewers_are_reminded_once_per_window(
    estate: dict[str, Grant], run_on_commit: Any, manager: Any, security_admin: Any, settings: Any
) -> None:
    settings.REVIEW_REMINDER_HOURS = 48
    _start(security_admin, run_on_commit)
    mail.outbox.clear()

    assert access_review_reminders_send() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        assert access_review_reminders_send() == 4
        assert access_review_reminders_send() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=98)):
        assert access_review_reminders_send() == 4
    to_manager = [m for m in mail.outbox if m.to == [manager.email]]
    assert len(to_manager) == 2 and "Q1 access review" in to_manager[0].body


def test_a_campaign_needs_a_security_admin_a_future_deadline_and_something_to_review(
    security_admin: Any, manager: Any, run_on_commit: Any
) -> None:
    with pytest.raises(ReviewNotAllowed):
        _start(manager, run_on_commit)
    with pytest.raises(ReviewError, match="after today"):
        _start(security_admin, run_on_commit, deadline=timezone.localdate())
    with pytest.raises(ReviewError, match="no live access"):
        _start(security_admin, run_on_commit)


def test_a_campaign_of_chosen_role_groups_reviews_only_those(
    estate: dict[str, Grant], run_on_commit: Any, security_admin: Any
) -> None:
    chosen = estate["sensitive"].role_group
    campaign = _start(security_admin, run_on_commit, role_groups=[chosen])
    assert list(campaign.items.values_list("grant_id", flat=True)) == [estate["sensitive"].pk]


def test_the_report_is_the_evidence_as_csv_with_formulas_neutralised_and_as_a_printable_page(
    estate: dict[str, Grant], run_on_commit: Any, manager: Any, security_admin: Any, auditor: Any
) -> None:
    campaign = _start(security_admin, run_on_commit, name='=HYPERLINK("http://evil")')
    review_item_decide(
        item_id=_item(campaign, estate["ordinary"]).pk,
        actor=manager,
        decision="revoke",
        reason="@SUM(A1) -- not needed",
    )
    client = Client()
    client.force_login(auditor)

    response = client.get(reverse("access_review_report_csv", args=[campaign.pk]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 4
    revoked = next(r for r in rows if r["decision"] == "Revoked")
    assert revoked["review"] == '\'=HYPERLINK("http://evil")'
    assert revoked["reason"] == "'@SUM(A1) -- not needed"
    assert revoked["decided by"] == manager.email and revoked["holder email"]
    assert all(
        not value.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for value in r.values()
    )

    page = client.get(reverse("access_review_report", args=[campaign.pk])).content.decode()
    assert "Access review report" in page and "@SUM(A1) -- not needed" in page
    assert page.count("<tr>") == 5  # the header and one row per grant


def test_a_grant_that_ends_during_the_review_is_recorded_as_ended_not_kept(
    estate: dict[str, Grant], run_on_commit: Any, employee: Any, manager: Any, security_admin: Any
) -> None:
    from provisioning.lifecycle.ending import grant_relinquish

    campaign = _start(security_admin, run_on_commit)
    with run_on_commit():
        grant_relinquish(grant_id=estate["ordinary"].pk, actor=employee)

    item = review_item_decide(
        item_id=_item(campaign, estate["ordinary"]).pk, actor=manager, decision="keep"
    )

    assert item.decision == Decision.ENDED
    assert "already ended" in item.reason
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        access_review_deadlines_apply()
    assert _item(campaign, estate["ordinary"]).decision == Decision.ENDED


def test_the_start_page_refuses_bad_input_with_a_clear_message(
    security_admin: Any, client: Client
) -> None:
    client.force_login(security_admin)
    url = reverse("access_review_new")

    response = client.post(
        url,
        {
            "name": "",
            "deadline": timezone.localdate().isoformat(),
            "scope": "chosen",
            "at_deadline": "revoke",
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Name the review." in page
    assert "Choose a day after today" in page
    assert "Tick at least one role-group" in page
    assert not AccessReview.objects.exists()
