"""The approvals dashboard, its decisions (one and bulk) and the decision history."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from provisioning.models import AccessRequest, Approval
from provisioning.requests.decisions import access_request_approve, access_request_reject
from tests.factories import (
    AccessRequestFactory,
    GrantFactory,
    IamAccountFactory,
    RoleGroupFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

WHY = "I build the data pipeline and need to deploy it."
Status = AccessRequest.Status
ROLES = ["employee", "manager", "hr", "security", "auditor"]
APPROVERS = {"manager", "security"}


def pending(requester, role_group=None, **fields):
    return AccessRequestFactory(
        requester=requester,
        role_group=role_group or RoleGroupFactory(),
        access_type=fields.pop("access_type", "console"),
        justification=fields.pop("justification", WHY),
        iam_user_name=requester.email.split("@")[0],
        **fields,
    )


def text(response):
    return response.content.decode()


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


# --- Who may open what ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["approvals", "approvals_history"])
@pytest.mark.parametrize("role", ROLES)
def test_only_managers_and_security_admins_see_the_dashboard(client, people, role, name):
    client.force_login(people[role])
    response = client.get(reverse(name))
    assert response.status_code == (200 if role in APPROVERS else 403)


@pytest.mark.parametrize("role", ROLES)
def test_only_approvers_may_post_decisions(client, people, role):
    access_request = pending(people["employee"])
    client.force_login(people[role])
    response = client.post(reverse("approvals_decide"), {"approve_one": access_request.pk})
    assert response.status_code == (302 if role in APPROVERS else 403)
    access_request.refresh_from_db()
    expected = Status.APPROVED if role == "manager" else Status.PENDING
    assert access_request.status == expected


@pytest.mark.parametrize("role", ROLES)
def test_the_reject_page_opens_only_for_who_may_decide(client, people, role):
    access_request = pending(people["employee"])
    client.force_login(people[role])
    response = client.get(reverse("approvals_reject", args=[access_request.pk]))
    assert response.status_code == (200 if role == "manager" else 403)


@pytest.mark.parametrize(
    "name,args",
    [
        ("approvals", []),
        ("approvals_history", []),
        ("approvals_decide", []),
        ("approvals_reject", [1]),
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- The dashboard --------------------------------------------------------------------------


def test_a_manager_sees_the_pending_requests_of_direct_reports_only(client, employee, manager):
    mine = pending(employee, RoleGroupFactory(name="Mine (test)"), access_type="both")
    pending(UserFactory(manager=UserFactory()), RoleGroupFactory(name="Not mine (test)"))
    pending(employee, RoleGroupFactory(name="Decided (test)"), status=Status.APPROVED)
    client.force_login(manager)

    response = client.get(reverse("approvals"))

    assert [r.pk for r in response.context["page_obj"].object_list] == [mine.pk]
    page = text(response)
    for shown in ("Erin Employee", "Mine (test)", "Console and programmatic", WHY, "just now"):
        assert shown in page
    assert "Not mine (test)" not in page
    assert "Decided (test)" not in page


def test_a_security_admin_sees_second_approvals_except_those_they_gave_first(
    client, employee, manager, security_admin
):
    sensitive = RoleGroupFactory(name="Sensitive (test)", sensitive=True)
    waiting = pending(employee, sensitive)
    access_request_approve(access_request_id=waiting.pk, actor=manager)
    own_report = UserFactory(manager=security_admin)
    theirs = pending(own_report, RoleGroupFactory(sensitive=True))
    access_request_approve(access_request_id=theirs.pk, actor=security_admin)
    without_manager = pending(UserFactory())
    client.force_login(security_admin)

    response = client.get(reverse("approvals"))

    shown = {r.pk for r in response.context["page_obj"].object_list}
    assert shown == {waiting.pk, without_manager.pk}
    assert "Approved by Morgan Manager" in text(response)


def test_approving_one_request_from_the_dashboard(client, employee, manager):
    access_request = pending(employee)
    client.force_login(manager)

    response = client.post(
        reverse("approvals_decide"), {"approve_one": access_request.pk}, follow=True
    )

    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert f"Approved #{access_request.pk}." in messages_of(response)


def test_deciding_a_request_that_is_not_yours_gives_a_message_and_changes_nothing(
    client, employee, manager
):
    stranger = UserFactory(manager=UserFactory())
    not_mine = pending(stranger)
    client.force_login(manager)

    response = client.post(reverse("approvals_decide"), {"approve_one": not_mine.pk}, follow=True)

    not_mine.refresh_from_db()
    assert not_mine.status == Status.PENDING
    assert not Approval.objects.exists()
    assert any("manager can decide" in m for m in messages_of(response))


def test_bulk_approval_of_the_ticked_requests(client, employee, manager):
    ticked = [pending(employee), pending(employee)]
    untouched = pending(employee)
    client.force_login(manager)

    client.post(
        reverse("approvals_decide"),
        {"request_ids": [r.pk for r in ticked], "action": "approve"},
    )

    statuses = dict(AccessRequest.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in ticked] == [Status.APPROVED, Status.APPROVED]
    assert statuses[untouched.pk] == Status.PENDING


def test_bulk_rejection_needs_one_reason_and_applies_it_to_each(client, employee, manager):
    ticked = [pending(employee), pending(employee)]
    ids = [r.pk for r in ticked]
    client.force_login(manager)

    response = client.post(
        reverse("approvals_decide"), {"request_ids": ids, "action": "reject"}, follow=True
    )
    assert "Give a reason for rejecting: the requesters will read it." in messages_of(response)
    assert AccessRequest.objects.filter(status=Status.PENDING).count() == 2

    client.post(
        reverse("approvals_decide"),
        {"request_ids": ids, "action": "reject", "reason": "Budget freeze."},
    )
    assert AccessRequest.objects.filter(status=Status.REJECTED).count() == 2
    assert set(Approval.objects.values_list("reason", flat=True)) == {"Budget freeze."}


@pytest.mark.parametrize(
    "data",
    [
        {"request_ids": ["abc"], "action": "approve"},
        {"request_ids": [], "action": "approve"},
        {"action": "delete", "request_ids": ["1"]},
    ],
)
def test_forged_bulk_posts_are_refused_with_a_message(client, employee, manager, data):
    pending(employee)
    client.force_login(manager)
    response = client.post(reverse("approvals_decide"), data, follow=True)
    assert messages_of(response)
    assert AccessRequest.objects.get().status == Status.PENDING


def test_rejecting_one_request_with_its_own_reason(client, employee, manager):
    access_request = pending(employee)
    url = reverse("approvals_reject", args=[access_request.pk])
    client.force_login(manager)

    missing = client.post(url, {"reason": ""})
    assert "Give a reason for rejecting" in text(missing)
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING

    client.post(url, {"reason": "Ask for Analysts."})
    access_request.refresh_from_db()
    assert access_request.status == Status.REJECTED
    assert access_request.approvals.get().reason == "Ask for Analysts."


def test_the_reject_page_of_a_decided_request_says_so(client, employee, manager):
    access_request = pending(employee, status=Status.APPROVED)
    client.force_login(manager)
    response = client.get(reverse("approvals_reject", args=[access_request.pk]), follow=True)
    assert any("already approved" in m for m in messages_of(response))


def test_the_reject_page_of_a_missing_request_is_not_found(client, manager, employee):
    client.force_login(manager)
    assert client.get(reverse("approvals_reject", args=[999_999])).status_code == 404


def test_the_decision_history_lists_ones_own_decisions(client, employee, manager):
    approved = pending(employee, RoleGroupFactory(name="Approved (test)"))
    rejected = pending(employee, RoleGroupFactory(name="Rejected (test)"))
    access_request_approve(access_request_id=approved.pk, actor=manager)
    access_request_reject(access_request_id=rejected.pk, actor=manager, reason="Not needed.")
    client.force_login(manager)

    page = text(client.get(reverse("approvals_history")))

    assert "Approved (test)" in page and "Rejected (test)" in page and "Not needed." in page


# --- Constant queries -----------------------------------------------------------------------


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_dashboard_and_history_cost_the_same_queries_for_1_and_200_requests(
    client, employee, manager, django_assert_max_num_queries
):
    groups = [RoleGroupFactory() for _ in range(20)]
    reports = [employee, *(UserFactory(manager=manager) for _ in range(19))]
    pairs = [(report, group) for report in reports for group in groups]
    # What each requester holds now is on the dashboard too: one query however many.
    held = [RoleGroupFactory(name=f"Held now {n}") for n in range(3)]
    for report in reports:
        account = IamAccountFactory(owner=report)
        for group in held:
            GrantFactory(iam_account=account, role_group=group)
    pending(employee, groups[0])
    access_request_approve(access_request_id=pending(employee, groups[1]).pk, actor=manager)
    client.force_login(manager)
    dashboard, history = reverse("approvals"), reverse("approvals_history")
    one = {url: _queries(client, url) for url in (dashboard, history)}

    AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=r, role_group=g, access_type="both", justification=WHY, first_approver=manager
        )
        for r, g in pairs[2:201]
    )
    decided = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=r,
            role_group=g,
            access_type="console",
            justification=WHY,
            status=Status.APPROVED,
            copied_from=employee,
        )
        for r, g in pairs[201:400]
    )
    Approval.objects.bulk_create(
        Approval(request=r, approver=manager, stage="manager", decision="approved") for r in decided
    )
    assert AccessRequest.objects.filter(status=Status.PENDING).count() == 200
    assert Approval.objects.filter(approver=manager).count() == 200

    assert client.get(dashboard).content.decode().count("Held now 2") >= 20
    # One more on the dashboard: its queue no longer fits on one page, so it is counted.
    counted = {dashboard: 1, history: 0}
    for url in (dashboard, history):
        assert _queries(client, url) == one[url] + counted[url]
        with django_assert_max_num_queries(one[url] + counted[url]):
            client.get(url)


def test_holds_now_shows_live_grants_of_a_live_iam_user_only(client, employee, manager):
    newcomer = UserFactory(manager=manager, email="newcomer@example.com")
    account = IamAccountFactory(owner=employee)
    GrantFactory(iam_account=account, role_group=RoleGroupFactory(name="Still held"))
    GrantFactory(
        iam_account=account,
        role_group=RoleGroupFactory(name="Analysts for a while"),
        ends_on=datetime.date(2031, 3, 4),
    )
    GrantFactory(
        iam_account=account,
        role_group=RoleGroupFactory(name="Ended last week"),
        revoked_at=timezone.now(),
    )
    old = IamAccountFactory(owner=employee, status="deleted")
    GrantFactory(iam_account=old, role_group=RoleGroupFactory(name="On a deleted user"))
    pending(employee)
    pending(newcomer)
    client.force_login(manager)

    rows = {
        row.split("</td>", 2)[0]: row
        for row in text(client.get(reverse("approvals"))).split('data-label="Requester">')[1:]
    }

    [mine] = [row for who, row in rows.items() if employee.email in who]
    [theirs] = [row for who, row in rows.items() if "newcomer@example.com" in who]
    assert "Still held" in mine and "Nothing yet" not in mine
    # A to Z, each with its end: what the reviewer weighs the request against.
    assert mine.index("Analysts for a while") < mine.index("Still held")
    assert 'Analysts for a while <span class="help">until 4 Mar 2031</span>' in mine
    assert "Ended last week" not in mine and "On a deleted user" not in mine
    assert "Nothing yet: a new IAM user" in theirs


def test_sixty_waiting_are_three_pages_oldest_first_and_the_nav_counts_all(client, manager):
    reports = [UserFactory(manager=manager) for _ in range(60)]
    made = [pending(report) for report in reports]
    client.force_login(manager)

    first = text(client.get(reverse("approvals")))
    last = text(client.get(reverse("approvals") + "?page=3"))

    assert first.count('name="request_ids"') == 25 and last.count('name="request_ids"') == 10
    assert "Page 1 of 3" in first
    assert f'value="{made[0].pk}"' in first and f'value="{made[-1].pk}"' in last
    assert '<span class="nav-count">60<' in first
