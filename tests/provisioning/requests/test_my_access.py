"""The employee's "My access" page: requests with their timeline, IAM users, links waiting."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from provisioning.models import AccessRequest, Approval, Grant
from provisioning.requests.decisions import access_request_approve
from tests.factories import (
    AccessRequestFactory,
    ApprovalFactory,
    CredentialLinkFactory,
    GrantFactory,
    IamAccountFactory,
    KeyRotationFactory,
    RoleGroupFactory,
    UserFactory,
    issued_link,
)

pytestmark = pytest.mark.django_db

URL = reverse("my_access")
PARTIAL = reverse("my_access_live")
WHY = "I build the data pipeline and need to deploy it."
Status = AccessRequest.Status
ROLES = ["employee", "manager", "hr", "security", "auditor"]


def request_of(person, role_group=None, **fields):
    return AccessRequestFactory(
        requester=person,
        role_group=role_group or RoleGroupFactory(),
        access_type=fields.pop("access_type", "console"),
        justification=WHY,
        iam_user_name="employee",
        **fields,
    )


def text(response):
    return response.content.decode()


@pytest.mark.parametrize("url", [URL, PARTIAL])
@pytest.mark.parametrize("role", ROLES)
def test_every_signed_in_role_sees_their_own_access(client, people, role, url):
    client.force_login(people[role])
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", [URL, PARTIAL, reverse("access_request_cancel", args=[1])])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_only_ones_own_requests_are_listed(client, employee):
    mine = request_of(employee, RoleGroupFactory(name="Mine (test)"))
    request_of(UserFactory(), RoleGroupFactory(name="Someone else's (test)"))
    client.force_login(employee)

    response = client.get(URL)

    assert [r.pk for r in response.context["page_obj"].object_list] == [mine.pk]
    assert "Someone else&#x27;s (test)" not in text(response)


def test_the_timeline_says_who_approved_and_when_and_how_it_ended(client, employee, manager):
    approved = request_of(employee, RoleGroupFactory(name="Developers (test)"))
    access_request_approve(access_request_id=approved.pk, actor=manager)
    AccessRequest.objects.filter(pk=approved.pk).update(
        status=Status.ACTIVE, provisioned_at=timezone.now()
    )
    request_of(
        employee,
        status=Status.FAILED,
        failure_reason="AWS refused: the account has too many IAM users (LimitExceeded).",
    )
    waiting = request_of(employee)
    client.force_login(employee)

    page = text(client.get(URL))

    assert "Approved by Morgan Manager (manager)" in page
    assert "Active since" in page
    assert "Failed: AWS refused: the account has too many IAM users (LimitExceeded)." in page
    assert "Waiting for your manager, Morgan Manager" in page
    assert f"Submitted {timezone.localtime(waiting.submitted_at):%-d %b %Y}" in page


def _poller(page):
    match = re.search(r'<div id="my-access-poll" hidden([^>]*)>', page)
    assert match, "no poller on the page"
    return match.group(1)


def test_the_page_watches_quickly_while_provisioning_slowly_while_waiting_and_then_stops(
    client, employee
):
    client.force_login(employee)
    assert "hx-get" not in _poller(text(client.get(URL)))  # nothing can change by itself

    pending = request_of(employee, status=Status.PENDING)
    assert 'hx-trigger="load delay:10s"' in _poller(text(client.get(URL)))

    AccessRequest.objects.filter(pk=pending.pk).update(status=Status.PROVISIONING, attempts=2)
    poller = _poller(text(client.get(URL)))
    assert 'hx-trigger="load delay:2s"' in poller
    assert f'hx-get="{PARTIAL}?page=1"' in poller
    assert 'hx-swap="morph:outerHTML"' in poller

    fragment = text(client.get(PARTIAL))
    assert "Provisioning your IAM user… (attempt 2)" in fragment
    assert '<div id="my-access-live">' in fragment
    assert "<html" not in fragment

    AccessRequest.objects.filter(pk=pending.pk).update(status=Status.ACTIVE)
    assert "hx-get" not in _poller(text(client.get(PARTIAL)))


WATCHED = {
    "in flight": 2,
    "undecided": 10,
    "link waiting": 10,
    "key rotating": 10,
    "rotation of a deleted IAM user": 0,
    "nothing": 0,
}


def _watched(employee, what):
    account = IamAccountFactory(owner=employee, user_name="erin")
    status = {"in flight": Status.PROVISIONING, "undecided": Status.PENDING}.get(what)
    request_of(employee, status=status or Status.ACTIVE, iam_account=account)
    if what == "link waiting":
        issued_link(employee)
    elif what == "key rotating":
        KeyRotationFactory(iam_account=account)
    elif what == "rotation of a deleted IAM user":
        KeyRotationFactory(iam_account=IamAccountFactory(owner=employee, status="deleted"))


@pytest.mark.parametrize("pages", [1, 2])
@pytest.mark.parametrize("what", WATCHED)
def test_the_page_watches_for_what_is_anywhere_in_its_requests_links_and_keys(
    client, employee, what, pages
):
    """On one page, the watch comes from what the page read; over two (what is watched sits
    on the second, behind 25 newer requests), from its own query: the same answer."""
    _watched(employee, what)
    if pages == 2:
        for _ in range(25):
            request_of(employee, status=Status.ACTIVE)
    client.force_login(employee)
    poller = _poller(text(client.get(URL)))
    if WATCHED[what]:
        assert f'hx-trigger="load delay:{WATCHED[what]}s"' in poller
    else:
        assert "hx-get" not in poller


def test_the_stepper_marks_where_each_request_is(client, employee):
    waiting = request_of(employee, status=Status.PENDING)
    building = request_of(employee, status=Status.PROVISIONING)
    done = request_of(employee, status=Status.ACTIVE)
    broken = request_of(employee, status=Status.FAILED)
    client.force_login(employee)
    page = text(client.get(URL))

    def current(access_request):
        stepper = re.search(
            rf'aria-label="Progress of request #{access_request.pk}">(.*?)</ol>', page, re.S
        )
        assert stepper, access_request
        return re.search(
            r'<li class="(\w+)" aria-current="step">([^<]+)', stepper.group(1)
        ).groups()

    assert current(waiting) == ("current", "Approval")
    assert current(building) == ("current", "Provisioning")
    assert current(done) == ("done", "Active")
    assert current(broken) == ("failed", "Provisioning failed")


def test_provisioning_slower_than_a_minute_says_so_and_that_security_was_told(
    client, employee, settings
):
    slow = request_of(employee, status=Status.APPROVED)
    AccessRequest.objects.filter(pk=slow.pk).update(
        decided_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_SLOW_SECONDS - 5)
    )
    client.force_login(employee)
    assert "Taking longer than usual" not in text(client.get(URL))

    AccessRequest.objects.filter(pk=slow.pk).update(
        decided_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_SLOW_SECONDS + 5)
    )
    assert "Taking longer than usual; the security admins are being told." in text(client.get(URL))
    AccessRequest.objects.filter(pk=slow.pk).update(slow_notified_at=timezone.now())
    assert "Taking longer than usual; the security admins have been told." in text(
        client.get(PARTIAL)
    )


def test_each_waiting_link_says_which_request_it_belongs_to(client, employee):
    access_request = request_of(
        employee, RoleGroupFactory(name="Link group (test)"), status=Status.ACTIVE
    )
    link, _ = issued_link(employee)
    link.request = access_request
    link.save(update_fields=["request"])
    client.force_login(employee)
    page = text(client.get(URL))
    assert f"Request #{access_request.pk} (Link group (test)): credentials for IAM user" in page
    assert "(console password and access key)" in page


def test_iam_users_show_their_live_role_groups_and_ended_ones_as_history(client, employee):
    account = IamAccountFactory(owner=employee, user_name="erin")
    GrantFactory(iam_account=account, role_group=RoleGroupFactory(name="Held (test)"))
    GrantFactory(
        iam_account=account,
        role_group=RoleGroupFactory(name="Revoked (test)"),
        revoked_at=timezone.now(),
    )
    client.force_login(employee)

    page = text(client.get(URL))

    assert "erin" in page
    held, _, history = page.partition("Past role-groups")
    assert "Held (test)" in held and "Revoked (test)" not in held
    assert "Revoked (test)" in history


def test_a_credential_link_waiting_says_check_your_email_and_nothing_more(client, employee):
    account = IamAccountFactory(owner=employee, user_name="erin")
    token = "a-token-that-must-never-be-shown"
    CredentialLinkFactory(
        recipient=employee,
        iam_account=account,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        sealed_password=b"sealed",
        issued_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=24),
    )
    client.force_login(employee)

    page = text(client.get(URL))

    assert "check your email" in page
    assert token not in page
    assert hashlib.sha256(token.encode()).hexdigest() not in page


@pytest.mark.parametrize("state", ["revealed_at", "revoked_at", "expired"])
def test_used_or_expired_links_are_not_announced(client, employee, state):
    account = IamAccountFactory(owner=employee, user_name="erin")
    now = timezone.now()
    CredentialLinkFactory(
        recipient=employee,
        iam_account=account,
        expires_at=now - timedelta(hours=1) if state == "expired" else now + timedelta(hours=1),
        **({state: now} if state != "expired" else {}),
    )
    client.force_login(employee)
    assert "check your email" not in text(client.get(URL))


def test_an_undecided_request_can_be_cancelled_from_the_page(client, employee):
    access_request = request_of(employee)
    client.force_login(employee)
    assert reverse("access_request_cancel", args=[access_request.pk]) in text(client.get(URL))

    response = client.post(reverse("access_request_cancel", args=[access_request.pk]), follow=True)

    access_request.refresh_from_db()
    assert access_request.status == Status.CANCELLED
    assert f"Request #{access_request.pk} is cancelled." in text(response)


def test_cancelling_someone_elses_request_is_refused_with_a_message(client, employee):
    theirs = request_of(UserFactory())
    client.force_login(employee)

    response = client.post(reverse("access_request_cancel", args=[theirs.pk]), follow=True)

    theirs.refresh_from_db()
    assert theirs.status == Status.PENDING
    assert f"There is no request #{theirs.pk}." in text(response)


def test_cancel_needs_a_post(client, employee):
    access_request = request_of(employee)
    client.force_login(employee)
    assert client.get(reverse("access_request_cancel", args=[access_request.pk])).status_code == 405
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_my_access_costs_the_same_queries_for_1_and_200_requests(
    client, employee, manager, django_assert_max_num_queries
):
    account = IamAccountFactory(owner=employee, user_name="erin")
    groups = [RoleGroupFactory() for _ in range(200)]
    first = request_of(employee, groups[0], status=Status.PROVISIONING, iam_account=account)
    ApprovalFactory(request=first, approver=manager, stage="manager", decision="approved")
    GrantFactory(iam_account=account, role_group=groups[0])
    client.force_login(employee)
    one = {url: _queries(client, url) for url in (URL, PARTIAL)}

    created = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=employee,
            role_group=group,
            access_type="both",
            justification=WHY,
            status=Status.ACTIVE,
            iam_account=account,
            copied_from=manager,
        )
        for group in groups[1:]
    )
    Approval.objects.bulk_create(
        Approval(request=r, approver=manager, stage="manager", decision="approved") for r in created
    )
    Grant.objects.bulk_create(Grant(iam_account=account, role_group=g) for g in groups[1:])
    assert AccessRequest.objects.filter(requester=employee).count() == 200

    # Two more: the requests no longer fit on one page, so they are counted (one COUNT), and
    # what the page watches for is asked of them all (one query), not read off the page.
    for url in (URL, PARTIAL):
        assert _queries(client, url) == one[url] + 2
        with django_assert_max_num_queries(one[url] + 2):
            client.get(url)
