from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts import roles
from audit.models import AuditEvent
from provisioning.errors import AlreadyHeld, DuplicateOpenRequest, RequestInvalid
from provisioning.models import AccessRequest, IamAccount
from provisioning.requests import selectors
from provisioning.requests.plan import PlanChanged, access_request_plan
from provisioning.requests.submit import access_request_submit
from tests.factories import AccessRequestFactory, GrantFactory, RoleGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

WHY = "I build the data pipeline and need to deploy it."


def submit(person, **kwargs):
    kwargs.setdefault("access_type", AccessRequest.AccessType.CONSOLE)
    kwargs.setdefault("justification", WHY)
    return access_request_submit(requester=person, **kwargs)


def give(person, role_group, user_name=None):
    """Give `person` a live IAM user holding `role_group`, as provisioning would have."""
    account, _ = IamAccount.objects.get_or_create(
        owner=person, defaults={"user_name": user_name or person.email.split("@")[0]}
    )
    GrantFactory(iam_account=account, role_group=role_group)
    return account


def test_submitting_creates_a_pending_request_with_its_iam_user_name_and_an_audit_row(
    employee, developers
):
    [created] = submit(employee, role_group=developers, access_type="both")

    created.refresh_from_db()
    assert created.status == AccessRequest.Status.PENDING
    assert created.requester == employee
    assert created.access_type == "both"
    assert created.iam_user_name == "employee"
    assert created.iam_account is None
    event = AuditEvent.objects.get(action="request.submitted")
    assert event.target == f"access_request:{created.pk}"
    assert event.data["role_group"] == developers.name
    assert event.data["iam_user_name"] == "employee"


def test_the_manager_is_emailed_about_a_new_request(
    employee, manager, developers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [created] = submit(employee, role_group=developers)

    [message] = mail.outbox
    assert message.to == [manager.email]
    assert employee.full_name in message.subject
    assert f"Request #{created.pk}" in message.body
    assert developers.name in message.body
    assert "/access/approvals/" in message.body


def test_without_a_manager_the_security_admins_are_emailed_instead(
    security_admin, developers, django_capture_on_commit_callbacks
):
    loner = UserFactory(email="loner@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        submit(loner, role_group=developers)

    [message] = mail.outbox
    assert message.to == [security_admin.email]
    assert "no manager" in message.body
    plan = access_request_plan(
        requester=loner, access_type="console", justification=WHY, role_group=RoleGroupFactory()
    )
    assert plan.approver is None


def test_a_manager_who_has_left_counts_as_no_manager(employee, manager):
    manager.is_active = False
    manager.save()
    employee.refresh_from_db()
    assert selectors.first_stage_approver(employee) is None


def test_an_inactive_role_group_cannot_be_requested(employee):
    retired = RoleGroupFactory(active=False)
    with pytest.raises(RequestInvalid, match="no longer offered"):
        submit(employee, role_group=retired)
    assert not AccessRequest.objects.exists()


@pytest.mark.parametrize("justification", ["too short", "x" * 1001, " " * 30])
def test_a_justification_outside_20_to_1000_characters_is_refused(
    employee, developers, justification
):
    with pytest.raises(RequestInvalid, match="20 to 1000 characters"):
        submit(employee, role_group=developers, justification=justification)
    assert not AccessRequest.objects.exists()


def test_an_end_date_past_the_role_groups_maximum_is_refused(employee):
    limited = RoleGroupFactory(name="Admins (test)", max_duration_days=90)
    too_late = timezone.localdate() + timedelta(days=91)
    with pytest.raises(RequestInvalid, match="at most 90 days"):
        submit(employee, role_group=limited, end_date=too_late)
    assert not AccessRequest.objects.exists()


def test_an_end_date_in_the_past_is_refused(employee, developers):
    with pytest.raises(RequestInvalid, match="past"):
        submit(employee, role_group=developers, end_date=timezone.localdate() - timedelta(days=1))
    assert not AccessRequest.objects.exists()


def test_a_role_group_with_a_maximum_is_never_granted_open_ended(employee):
    limited = RoleGroupFactory(max_duration_days=30)
    [created] = submit(employee, role_group=limited)
    assert created.end_date == timezone.localdate() + timedelta(days=30)


def test_a_second_open_request_for_the_same_role_group_is_refused(employee, developers):
    [first] = submit(employee, role_group=developers)
    with pytest.raises(DuplicateOpenRequest, match=f"#{first.pk}"):
        submit(employee, role_group=developers)
    assert AccessRequest.objects.count() == 1


def test_a_duplicate_that_slips_past_the_check_is_refused_by_the_database(
    employee, developers, monkeypatch
):
    submit(employee, role_group=developers)
    # As if a concurrent submission committed between the check and the insert.
    monkeypatch.setattr(selectors, "open_requests_of", lambda person: AccessRequest.objects.none())
    with pytest.raises(DuplicateOpenRequest, match="already have an open request"):
        submit(employee, role_group=developers)
    assert AccessRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="request.submitted").count() == 1


def test_a_closed_request_does_not_block_asking_again(employee, developers):
    [first] = submit(employee, role_group=developers)
    AccessRequest.objects.filter(pk=first.pk).update(status=AccessRequest.Status.REJECTED)
    [second] = submit(employee, role_group=developers)
    assert second.pk != first.pk


def test_asking_for_a_role_group_one_already_holds_says_so(employee, developers):
    give(employee, developers)
    with pytest.raises(AlreadyHeld, match=re.escape(f"already have {developers.name}")):
        submit(employee, role_group=developers)
    assert not AccessRequest.objects.exists()


def test_a_person_with_an_iam_user_asks_for_changes_to_that_user(employee, developers):
    account = give(employee, developers, user_name="erin")
    analysts = RoleGroupFactory(name="Analysts (test)")

    [created] = submit(employee, role_group=analysts)

    assert created.iam_account == account
    assert created.iam_user_name == "erin"
    assert AuditEvent.objects.get(action="request.submitted").data["change_to_existing_user"]


def test_changing_only_the_access_type_needs_an_existing_iam_user(employee):
    with pytest.raises(RequestInvalid, match="no IAM user yet"):
        submit(employee, access_type="programmatic")
    assert not AccessRequest.objects.exists()


def test_changing_only_the_access_type_of_an_existing_iam_user(employee, developers):
    account = give(employee, developers)
    AccessRequestFactory(
        requester=employee,
        role_group=developers,
        access_type="console",
        justification=WHY,
        status=AccessRequest.Status.ACTIVE,
        iam_account=account,
        iam_user_name=account.user_name,
        provisioned_at=timezone.now(),
    )
    with pytest.raises(RequestInvalid, match="already has console access"):
        submit(employee, access_type="console")

    plan = access_request_plan(requester=employee, access_type="programmatic", justification=WHY)
    assert plan.is_change and plan.iam_user_name == account.user_name
    assert plan.removes_console and plan.new_access_key and not plan.new_console_password

    [created] = submit(employee, access_type="both")

    assert created.role_group is None
    assert created.iam_account == account
    with pytest.raises(DuplicateOpenRequest, match="change access type"):
        submit(employee, access_type="programmatic")


def test_same_access_as_a_colleague_copies_their_live_role_groups_one_request_each(
    employee, developers
):
    colleague = UserFactory(email="colleague@example.com")
    analysts = RoleGroupFactory(name="Analysts (test)")
    held = RoleGroupFactory(name="Held (test)")
    asked = RoleGroupFactory(name="Asked (test)")
    retired = RoleGroupFactory(name="Retired (test)", active=False)
    revoked = RoleGroupFactory(name="Revoked (test)")
    for group in (developers, analysts, held, asked, retired):
        give(colleague, group)
    GrantFactory(
        iam_account=colleague.iam_accounts.get(), role_group=revoked, revoked_at=timezone.now()
    )
    give(employee, held)
    submit(employee, role_group=asked)

    created = submit(employee, colleague=colleague)

    assert sorted(r.role_group.name for r in created) == sorted([developers.name, analysts.name])
    assert all(r.copied_from == colleague for r in created)
    plan = access_request_plan(
        requester=UserFactory(), access_type="console", justification=WHY, colleague=colleague
    )
    assert (retired.name, "no longer offered") in plan.skipped


def test_copying_a_colleague_with_nothing_new_is_refused(employee, developers):
    colleague = UserFactory()
    give(colleague, developers)
    give(employee, developers)
    with pytest.raises(RequestInvalid, match="Nothing to request"):
        submit(employee, colleague=colleague)


def test_two_requests_before_provisioning_share_one_iam_user_name(employee, developers):
    [first] = submit(employee, role_group=developers)
    [second] = submit(employee, role_group=RoleGroupFactory())
    assert first.iam_user_name == second.iam_user_name == "employee"


def test_people_whose_emails_share_a_local_part_get_different_iam_user_names(developers):
    first = UserFactory(email="j.smith@a.com")
    second = UserFactory(email="j.smith@b.com")

    [one] = submit(first, role_group=developers)
    [two] = submit(second, role_group=developers)

    assert one.iam_user_name == "j.smith"
    assert two.iam_user_name == "j.smith@b.com"


def test_a_plan_that_changed_after_review_is_not_submitted(employee, developers):
    reviewed = access_request_plan(
        requester=employee, access_type="console", justification=WHY, role_group=developers
    )
    with pytest.raises(PlanChanged):
        submit(
            employee, role_group=developers, access_type="both", reviewed_digest=reviewed.digest()
        )
    assert not AccessRequest.objects.exists()

    [created] = submit(employee, role_group=developers, reviewed_digest=reviewed.digest())
    assert created.access_type == "console"


def test_an_inactive_person_cannot_request(developers):
    leaver = UserFactory(is_active=False, roles=[roles.EMPLOYEES])
    with pytest.raises(RequestInvalid, match="active"):
        submit(leaver, role_group=developers)
