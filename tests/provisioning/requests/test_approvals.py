"""The decision rules: who approves or rejects what, and what follows from a decision."""

from __future__ import annotations

import threading

import pytest
from celery.signals import task_prerun
from django.core import mail
from django.db import connection

from accounts import roles
from audit.models import AuditEvent
from provisioning.errors import AlreadyDecided, DecisionNotAllowed, RequestInvalid, RequestNotFound
from provisioning.models import AccessRequest, Approval
from provisioning.requests.cancel import access_request_cancel
from provisioning.requests.decisions import (
    access_request_approve,
    access_request_reject,
    access_requests_approve_bulk,
    access_requests_reject_bulk,
)
from provisioning.requests.submit import access_request_submit
from tests.factories import GrantFactory, IamAccountFactory, RoleGroupFactory, UserFactory

WHY = "I build the data pipeline and need to deploy it."
Status = AccessRequest.Status


def submit(person, role_group, **kwargs):
    [created] = access_request_submit(
        requester=person,
        role_group=role_group,
        access_type=kwargs.pop("access_type", "console"),
        justification=WHY,
        **kwargs,
    )
    return created


@pytest.fixture
def administrators(db):
    return RoleGroupFactory(name="Administrators (test)", sensitive=True)


@pytest.fixture
def second_admin(db):
    return UserFactory(email="security2@example.com", roles=[roles.SECURITY_ADMINS])


@pytest.fixture
def provisioning_started():
    """The ids `provision_access_request` ran for (Celery is eager in tests)."""
    started: list[int] = []

    def record(sender=None, args=None, **kwargs):
        if sender.name == "provisioning.tasks.provision_access_request":
            started.append(args[0])

    task_prerun.connect(record, weak=False)
    yield started
    task_prerun.disconnect(record)


# --- First stage: the manager ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_manager_approves_and_provisioning_is_enqueued_on_commit(
    employee, manager, developers, django_capture_on_commit_callbacks, provisioning_started
):
    access_request = submit(employee, developers)

    with django_capture_on_commit_callbacks() as callbacks:
        access_request_approve(access_request_id=access_request.pk, actor=manager)
        assert provisioning_started == []  # nothing runs before the commit

    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert access_request.decided_at is not None
    approval = Approval.objects.get(request=access_request)
    assert (approval.approver, approval.stage, approval.decision) == (
        manager,
        "manager",
        "approved",
    )
    event = AuditEvent.objects.get(action="request.approved")
    assert event.actor_id == manager.pk
    assert event.target == f"access_request:{access_request.pk}"
    assert len(callbacks) == 2  # provisioning, then the requester's email
    for callback in callbacks:
        callback()
    assert provisioning_started == [access_request.pk]


@pytest.mark.django_db
def test_the_requester_is_emailed_when_approved(
    employee, manager, developers, django_capture_on_commit_callbacks
):
    access_request = submit(employee, developers)
    with django_capture_on_commit_callbacks(execute=True):
        access_request_approve(access_request_id=access_request.pk, actor=manager)

    [message] = mail.outbox
    assert message.to == [employee.email]
    assert message.subject == f"Your access request #{access_request.pk} is approved"
    assert manager.full_name in message.body


@pytest.mark.django_db
def test_an_employee_cannot_decide(employee, developers):
    colleague = UserFactory(manager=employee.manager)
    access_request = submit(employee, developers)
    with pytest.raises(DecisionNotAllowed, match="manager"):
        access_request_approve(access_request_id=access_request.pk, actor=colleague)
    with pytest.raises(DecisionNotAllowed):
        access_request_reject(access_request_id=access_request.pk, actor=colleague, reason="no")
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING
    assert not Approval.objects.exists()


@pytest.mark.django_db
def test_a_manager_cannot_decide_for_someone_elses_report(employee, developers):
    other_manager = UserFactory()
    UserFactory(manager=other_manager)
    access_request = submit(employee, developers)
    with pytest.raises(DecisionNotAllowed):
        access_request_approve(access_request_id=access_request.pk, actor=other_manager)
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING


@pytest.mark.django_db
def test_a_manager_cannot_decide_their_own_request(employee, manager, developers):
    access_request = submit(manager, developers)
    with pytest.raises(DecisionNotAllowed, match="your own request"):
        access_request_approve(access_request_id=access_request.pk, actor=manager)
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING


@pytest.mark.django_db
def test_a_security_admin_cannot_decide_for_someone_who_has_a_manager(
    employee, security_admin, developers
):
    access_request = submit(employee, developers)
    with pytest.raises(DecisionNotAllowed):
        access_request_approve(access_request_id=access_request.pk, actor=security_admin)


@pytest.mark.django_db
def test_without_a_manager_a_security_admin_decides_the_first_stage(
    security_admin, developers, employee
):
    loner = UserFactory()
    access_request = submit(loner, developers)
    with pytest.raises(DecisionNotAllowed, match="no manager"):
        access_request_approve(access_request_id=access_request.pk, actor=employee)

    access_request_approve(access_request_id=access_request.pk, actor=security_admin)

    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED


@pytest.mark.django_db
def test_deciding_a_request_that_does_not_exist_says_so():
    with pytest.raises(RequestNotFound):
        access_request_approve(access_request_id=999_999, actor=UserFactory())


@pytest.mark.django_db
def test_a_decided_request_cannot_be_decided_again(employee, manager, developers):
    access_request = submit(employee, developers)
    access_request_approve(access_request_id=access_request.pk, actor=manager)
    with pytest.raises(AlreadyDecided, match="already approved"):
        access_request_reject(access_request_id=access_request.pk, actor=manager, reason="late")
    assert Approval.objects.count() == 1


@pytest.mark.django_db
def test_a_request_for_a_role_group_retired_meanwhile_cannot_be_approved(
    employee, manager, developers
):
    access_request = submit(employee, developers)
    developers.active = False
    developers.save()
    with pytest.raises(RequestInvalid, match="no longer offered"):
        access_request_approve(access_request_id=access_request.pk, actor=manager)
    access_request_reject(access_request_id=access_request.pk, actor=manager, reason="Retired.")


# --- Rejection ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rejecting_needs_a_reason(employee, manager, developers):
    access_request = submit(employee, developers)
    with pytest.raises(RequestInvalid, match="reason"):
        access_request_reject(access_request_id=access_request.pk, actor=manager, reason="  ")
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING


@pytest.mark.django_db
def test_a_rejection_is_recorded_audited_and_emailed_with_its_reason(
    employee, manager, developers, django_capture_on_commit_callbacks, provisioning_started
):
    access_request = submit(employee, developers)
    with django_capture_on_commit_callbacks(execute=True):
        access_request_reject(
            access_request_id=access_request.pk, actor=manager, reason="Use Analysts instead."
        )

    access_request.refresh_from_db()
    assert access_request.status == Status.REJECTED
    assert Approval.objects.get(request=access_request).reason == "Use Analysts instead."
    event = AuditEvent.objects.get(action="request.rejected")
    assert event.data["reason"] == "Use Analysts instead."
    [message] = mail.outbox
    assert message.to == [employee.email]
    assert "rejected" in message.subject
    assert "Use Analysts instead." in message.body
    assert provisioning_started == []


# --- Second stage: a security admin ---------------------------------------------------------


@pytest.mark.django_db
def test_a_sensitive_role_group_waits_for_a_second_approval(
    employee,
    manager,
    security_admin,
    administrators,
    django_capture_on_commit_callbacks,
    provisioning_started,
):
    access_request = submit(employee, administrators)
    with django_capture_on_commit_callbacks(execute=True):
        access_request_approve(access_request_id=access_request.pk, actor=manager)

    access_request.refresh_from_db()
    assert access_request.status == Status.AWAITING_SECOND_APPROVAL
    assert provisioning_started == []
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert "second approval" in by_recipient[(employee.email,)].subject
    assert "Second approval needed" in by_recipient[(security_admin.email,)].subject
    assert len(mail.outbox) == 2

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        access_request_approve(access_request_id=access_request.pk, actor=security_admin)

    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert provisioning_started == [access_request.pk]
    assert AuditEvent.objects.filter(action="request.second_approval").count() == 1
    assert [m.to for m in mail.outbox] == [[employee.email]]
    assert list(access_request.approvals.values_list("stage", flat=True)) == [
        "manager",
        "security",
    ]


@pytest.mark.django_db
def test_the_manager_cannot_give_the_second_approval(employee, manager, administrators):
    access_request = submit(employee, administrators)
    access_request_approve(access_request_id=access_request.pk, actor=manager)
    with pytest.raises(DecisionNotAllowed, match="security admin"):
        access_request_approve(access_request_id=access_request.pk, actor=manager)


@pytest.mark.django_db
def test_the_second_approver_must_differ_from_the_first(
    security_admin, second_admin, administrators
):
    # A security admin who is also the requester's manager approves the first stage...
    report = UserFactory(manager=security_admin)
    access_request = submit(report, administrators)
    access_request_approve(access_request_id=access_request.pk, actor=security_admin)

    with pytest.raises(DecisionNotAllowed, match="another security admin"):
        access_request_approve(access_request_id=access_request.pk, actor=security_admin)
    access_request.refresh_from_db()
    assert access_request.status == Status.AWAITING_SECOND_APPROVAL

    access_request_approve(access_request_id=access_request.pk, actor=second_admin)
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED


@pytest.mark.django_db
def test_a_security_admin_cannot_give_the_second_approval_of_their_own_request(
    security_admin, administrators
):
    boss = UserFactory()
    security_admin.manager = boss
    security_admin.save()
    access_request = submit(security_admin, administrators)
    access_request_approve(access_request_id=access_request.pk, actor=boss)
    with pytest.raises(DecisionNotAllowed, match="your own request"):
        access_request_approve(access_request_id=access_request.pk, actor=security_admin)


@pytest.mark.django_db
def test_a_security_admin_can_reject_at_the_second_stage(
    employee, manager, security_admin, administrators
):
    access_request = submit(employee, administrators)
    access_request_approve(access_request_id=access_request.pk, actor=manager)
    access_request_reject(
        access_request_id=access_request.pk, actor=security_admin, reason="Too broad."
    )
    access_request.refresh_from_db()
    assert access_request.status == Status.REJECTED
    assert access_request.approvals.get(stage="security").decision == "rejected"


@pytest.mark.django_db
def test_new_credentials_for_a_user_holding_a_sensitive_group_need_a_second_approval(
    employee, manager, administrators
):
    account = IamAccountFactory(owner=employee, user_name="erin")
    GrantFactory(iam_account=account, role_group=administrators)
    [access_request] = access_request_submit(
        requester=employee, access_type="both", justification=WHY
    )
    access_request_approve(access_request_id=access_request.pk, actor=manager)
    access_request.refresh_from_db()
    assert access_request.status == Status.AWAITING_SECOND_APPROVAL


# --- Bulk -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_approval_decides_only_the_managers_own_reports(employee, manager, developers):
    mine = [submit(employee, developers), submit(employee, RoleGroupFactory())]
    stranger = UserFactory(manager=UserFactory())
    not_mine = submit(stranger, developers)

    outcome = access_requests_approve_bulk(
        access_request_ids=[r.pk for r in mine] + [not_mine.pk, 999_999], actor=manager
    )

    assert sorted(r.pk for r in outcome.decided) == sorted(r.pk for r in mine)
    assert len(outcome.refused) == 2
    assert AccessRequest.objects.filter(status=Status.APPROVED).count() == 2
    not_mine.refresh_from_db()
    assert not_mine.status == Status.PENDING


@pytest.mark.django_db
def test_bulk_rejection_uses_one_reason_and_needs_it(employee, manager, developers):
    requests = [submit(employee, developers), submit(employee, RoleGroupFactory())]
    ids = [r.pk for r in requests]
    with pytest.raises(RequestInvalid, match="reason"):
        access_requests_reject_bulk(access_request_ids=ids, actor=manager, reason="")
    assert AccessRequest.objects.filter(status=Status.PENDING).count() == 2

    outcome = access_requests_reject_bulk(
        access_request_ids=ids, actor=manager, reason="Not this quarter."
    )

    assert len(outcome.decided) == 2
    assert set(Approval.objects.values_list("reason", flat=True)) == {"Not this quarter."}


# --- Concurrency ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_approvers_clicking_at_once_decide_once(
    postgres_required, employee, manager, administrators, security_admin, second_admin
):
    access_request = submit(employee, administrators)
    access_request_approve(access_request_id=access_request.pk, actor=manager)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(admin):
        try:
            barrier.wait()
            access_request_approve(access_request_id=access_request.pk, actor=admin)
            outcomes.append("approved")
        except AlreadyDecided:
            outcomes.append("already decided")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(a,)) for a in (security_admin, second_admin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["already decided", "approved"]
    assert Approval.objects.filter(request=access_request, stage="security").count() == 1
    assert AuditEvent.objects.filter(action="request.second_approval").count() == 1


# --- Cancel ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_requester_cancels_an_undecided_request(employee, developers):
    access_request = submit(employee, developers)
    access_request_cancel(access_request_id=access_request.pk, actor=employee)
    access_request.refresh_from_db()
    assert access_request.status == Status.CANCELLED
    assert AuditEvent.objects.filter(action="request.cancelled").exists()


@pytest.mark.django_db
def test_nobody_else_cancels_a_request_and_a_decided_one_stays(employee, manager, developers):
    access_request = submit(employee, developers)
    with pytest.raises(RequestNotFound):
        access_request_cancel(access_request_id=access_request.pk, actor=manager)
    access_request_approve(access_request_id=access_request.pk, actor=manager)
    with pytest.raises(AlreadyDecided, match="can no longer be cancelled"):
        access_request_cancel(access_request_id=access_request.pk, actor=employee)
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
