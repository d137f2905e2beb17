"""The worker's teardown of a leaver's IAM users, on a strict layer over moto that refuses
what AWS refuses (tests/strict_iam.py), and the verification report it ends with."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from audit.models import AuditEvent
from common.locks import LockKey
from portal.celery import app as celery_app
from provisioning import aws
from provisioning.errors import OffboardingBusy
from provisioning.models import (
    AccessKeyRecord,
    Grant,
    IamAccount,
    Offboarding,
    RoleGroup,
)
from provisioning.offboarding.report import offboarding_report_json
from provisioning.offboarding.start import offboarding_start
from provisioning.offboarding.teardown import STEPS, offboarding_teardown
from tests import strict_iam
from tests.factories import AccessKeyRecordFactory, GrantFactory, IamAccountFactory, UserFactory

EVERY_KIND = (*aws.CREDENTIAL_KINDS,)


def _leaver_with_loaded_user(user_name: str = "erin.leaver") -> tuple[Any, IamAccount, dict]:
    leaver = UserFactory(email=f"{user_name}@example.com")
    made = strict_iam.load_user(user_name)
    account = IamAccountFactory(owner=leaver, user_name=user_name)
    for key in made["access_keys"]:
        AccessKeyRecordFactory(iam_account=account, access_key_id=key)
    GrantFactory(iam_account=account, role_group=RoleGroup.objects.get(name="Developers"))
    return leaver, account, made


def _offboard(hr: Any, leaver: Any, capture: Any, mode: str = "delete") -> Offboarding:
    strict_iam.layer().calls.clear()  # only the offboarding's calls count
    with capture(execute=True):
        offboarding = offboarding_start(actor=hr, person=leaver, mode=mode)
    offboarding.refresh_from_db()
    return offboarding


def test_the_strict_layer_refuses_to_delete_a_loaded_user_straight_away(strict):
    made = strict_iam.load_user("loaded")
    with pytest.raises(aws.AwsError) as refused:
        aws.call("DeleteUser", UserName="loaded")
    assert refused.value.code == "DeleteConflict"
    assert "login profile" in refused.value.message
    with pytest.raises(aws.AwsError) as in_use:
        aws.call("DeleteVirtualMFADevice", SerialNumber=made["mfa_serial"])
    assert in_use.value.code == "DeleteConflict"
    inventory = aws.read_user("loaded")
    assert inventory.exists
    assert inventory.counts() == {
        "login_profile": 1,
        "access_keys": 2,
        "signing_certificates": 1,
        "ssh_public_keys": 1,
        "service_specific_credentials": 1,
        "mfa_devices": 1,
        "inline_policies": 1,
        "attached_policies": 1,
        "groups": 2,
        "permissions_boundary": 1,
    }


def test_the_strict_layer_refuses_until_the_last_membership_is_gone(strict):
    strict_iam.load_user("almost", simulated=False)
    for step in (
        aws.delete_login_profile,
        aws.delete_access_keys,
        aws.delete_signing_certificates,
        aws.delete_ssh_public_keys,
        aws.remove_mfa_devices,
        aws.delete_inline_policies,
        aws.detach_user_policies,
    ):
        step("almost")
    with pytest.raises(aws.AwsError) as refused:
        aws.delete_user("almost")
    assert "remove users from group" in refused.value.message
    aws.remove_from_groups("almost")
    assert aws.delete_user("almost") == ["almost"]


def test_delete_removes_a_fully_loaded_user_in_aws_order_and_reports_nothing_left(
    strict, hr_person, django_capture_on_commit_callbacks
):
    leaver, account, made = _leaver_with_loaded_user()

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)

    assert offboarding.status == Offboarding.Status.COMPLETED, offboarding.failure_reason
    assert not aws.read_user("erin.leaver").exists
    assert strict.refused == []
    calls = strict.operations("erin.leaver")
    changes = [c for c in calls if not c.startswith(("Get", "List"))]
    assert changes[0] == "DeleteLoginProfile"
    assert changes[-1] == "DeleteUser"
    first = {name: changes.index(name) for name in reversed(changes)}
    assert (
        first["DeleteLoginProfile"]
        < first["UpdateAccessKey"]
        < first["DeleteAccessKey"]
        < first["DeleteSigningCertificate"]
        < first["DeleteSSHPublicKey"]
        < first["DeleteServiceSpecificCredential"]
        < first["DeactivateMFADevice"]
        < first["DeleteUserPolicy"]
        < first["DetachUserPolicy"]
        < first["RemoveUserFromGroup"]
        < first["DeleteUserPermissionsBoundary"]
        < first["DeleteUser"]
    )
    # Deactivated before deleted, each key.
    for key in made["access_keys"]:
        updates = [
            i
            for i, (op, params) in enumerate(strict.calls)
            if op == "UpdateAccessKey" and params.get("AccessKeyId") == key
        ]
        deletes = [
            i
            for i, (op, params) in enumerate(strict.calls)
            if op == "DeleteAccessKey" and params.get("AccessKeyId") == key
        ]
        assert updates and deletes and updates[0] < deletes[0]
    [entry] = offboarding.report["accounts"]
    assert entry["outcome"] == "deleted"
    assert offboarding.report["remaining_total"] == 0
    assert entry["kinds"]["access_keys"] == {"found": 2, "removed": 2, "remaining": 0}
    assert entry["kinds"]["groups"] == {"found": 2, "removed": 2, "remaining": 0}
    assert entry["kinds"]["user"] == {"found": 1, "removed": 1, "remaining": 0}
    assert all(entry["kinds"][kind]["remaining"] == 0 for kind in EVERY_KIND)
    assert all(entry["kinds"][kind]["found"] >= 1 for kind in EVERY_KIND)
    assert offboarding.access_cut_at is not None
    assert offboarding.steps_done == [f"erin.leaver:{step}" for step in STEPS]
    account.refresh_from_db()
    assert account.status == IamAccount.Status.DELETED
    assert not AccessKeyRecord.objects.filter(deleted_at__isnull=True).exists()
    assert not Grant.objects.filter(revoked_at__isnull=True).exists()


def test_every_teardown_step_has_one_audit_row(
    strict, hr_person, django_capture_on_commit_callbacks
):
    leaver, _, _ = _leaver_with_loaded_user()
    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)
    rows = AuditEvent.objects.filter(target="iam_user:erin.leaver").order_by("id")
    assert [row.data["step"] for row in rows] == list(STEPS)
    assert {row.data["offboarding"] for row in rows} == {offboarding.pk}
    assert rows.last().action == "iam.user.deleted"
    assert AuditEvent.objects.filter(
        action="offboarding.completed", target=f"offboarding:{offboarding.pk}"
    ).exists()


def test_disable_keeps_the_user_with_no_credentials_a_deny_all_policy_and_the_tag(
    strict, hr_person, django_capture_on_commit_callbacks
):
    leaver, account, _ = _leaver_with_loaded_user()

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks, "disable")

    assert offboarding.status == Offboarding.Status.COMPLETED, offboarding.failure_reason
    inventory = aws.read_user("erin.leaver")
    assert inventory.exists
    assert sum(inventory.counts().values()) == 0
    assert inventory.inline_policies == [aws.DENY_ALL_POLICY_NAME]
    document = aws.call(
        "GetUserPolicy", UserName="erin.leaver", PolicyName=aws.DENY_ALL_POLICY_NAME
    )["PolicyDocument"]
    assert '"Deny"' in str(document) or "Deny" in str(document)
    assert inventory.tags[aws.OFFBOARDED_TAG] == timezone.localdate().isoformat()
    assert inventory.tags[aws.OFFBOARDED_BY_TAG] == aws.OFFBOARDED_BY_VALUE
    assert "DeleteUser" not in strict.operations()
    [entry] = offboarding.report["accounts"]
    assert entry["outcome"] == "disabled"
    assert entry["deny_all_attached"] is True
    assert offboarding.report["remaining_total"] == 0
    account.refresh_from_db()
    assert account.status == IamAccount.Status.DISABLED
    assert AuditEvent.objects.filter(
        action="iam.user.disabled", target="iam_user:erin.leaver"
    ).exists()


def test_hr_gets_the_report_by_email(strict, hr_person, django_capture_on_commit_callbacks):
    leaver, _, _ = _leaver_with_loaded_user()
    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)
    [message] = [m for m in mail.outbox if "erin.leaver" in m.body]
    assert message.to == [hr_person.email]
    assert "completed" in message.subject.lower()
    assert f"/access/offboarding/{offboarding.pk}/" in message.body
    assert "Initial-pass" not in message.body


def test_a_transient_failure_is_retried_and_resumes_without_repeating_steps(
    strict, hr_person, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # Eager retries run at once instead of raising Retry to the caller.
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    settings.AWS_FAULT_INJECTION = "before:DeleteSSHPublicKey:throttle=2"
    leaver, _, _ = _leaver_with_loaded_user()

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)

    assert offboarding.status == Offboarding.Status.COMPLETED, offboarding.failure_reason
    assert offboarding.attempts >= 2
    assert strict.operations("erin.leaver").count("DeleteLoginProfile") == 1
    rows = AuditEvent.objects.filter(target="iam_user:erin.leaver")
    assert rows.count() == len(STEPS)


def test_a_permanent_failure_leaves_it_incomplete_and_tells_hr_and_security(
    strict, hr_person, security_admin, settings, django_capture_on_commit_callbacks
):
    settings.AWS_FAULT_INJECTION = "before:DetachUserPolicy:error=AccessDenied"
    leaver, account, _ = _leaver_with_loaded_user()

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)

    assert offboarding.status == Offboarding.Status.INCOMPLETE
    assert "AccessDenied" in offboarding.failure_reason
    assert "DeleteConflict" in offboarding.failure_reason  # AWS refused the user, as it would
    [entry] = offboarding.report["accounts"]
    assert entry["kinds"]["attached_policies"]["remaining"] == 1
    assert entry["kinds"]["user"]["remaining"] == 1
    assert entry["kinds"]["login_profile"]["remaining"] == 0  # access was still cut
    assert offboarding.report["remaining_total"] == 2
    assert offboarding.access_cut_at is not None
    account.refresh_from_db()
    assert account.status == IamAccount.Status.ACTIVE
    incomplete = [m for m in mail.outbox if "incomplete" in m.subject.lower()]
    assert {address for m in incomplete for address in m.to} >= {
        hr_person.email,
        security_admin.email,
    }


def test_a_user_already_deleted_outside_the_portal_counts_as_removed(
    strict, hr_person, django_capture_on_commit_callbacks
):
    leaver = UserFactory()
    account = IamAccountFactory(owner=leaver, user_name="gone-already")

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)

    assert offboarding.status == Offboarding.Status.COMPLETED
    [entry] = offboarding.report["accounts"]
    assert entry["outcome"] == "absent"
    account.refresh_from_db()
    assert account.status == IamAccount.Status.DELETED


def test_a_leaver_without_iam_users_is_completed_at_once(
    strict, hr_person, employee, django_capture_on_commit_callbacks
):
    offboarding = _offboard(hr_person, employee, django_capture_on_commit_callbacks)
    assert offboarding.status == Offboarding.Status.COMPLETED
    assert offboarding.report["accounts"] == []
    assert offboarding.access_cut_at is not None


def test_a_finished_offboarding_is_not_torn_down_twice(
    strict, hr_person, django_capture_on_commit_callbacks
):
    leaver, _, _ = _leaver_with_loaded_user()
    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)
    calls = len(strict.calls)
    assert offboarding_teardown(offboarding_id=offboarding.pk) is None
    assert len(strict.calls) == calls


def test_every_iam_user_loses_console_and_keys_before_any_is_taken_apart(
    strict, hr_person, django_capture_on_commit_callbacks
):
    leaver, _, _ = _leaver_with_loaded_user("first.user")
    strict_iam.load_user("second.user", simulated=False)
    IamAccountFactory(owner=leaver, user_name="second.user")

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)

    assert offboarding.status == Offboarding.Status.COMPLETED, offboarding.failure_reason
    changes = [
        (op, params.get("UserName"))
        for op, params in strict.calls
        if not op.startswith(("Get", "List"))
    ]
    last_cut = max(
        changes.index(call)
        for call in changes
        if call[0] in {"DeleteLoginProfile", "UpdateAccessKey"}
    )
    first_other = min(
        i
        for i, call in enumerate(changes)
        if call[0] not in {"DeleteLoginProfile", "UpdateAccessKey"}
    )
    assert last_cut < first_other


def test_when_retries_run_out_the_offboarding_is_incomplete_with_the_reason(
    strict, hr_person, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    settings.AWS_FAULT_INJECTION = "before:DeleteSSHPublicKey:throttle=1000"
    leaver, _, _ = _leaver_with_loaded_user()

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)

    assert offboarding.status == Offboarding.Status.INCOMPLETE
    assert "gave up" in offboarding.failure_reason
    assert "Throttling" in offboarding.failure_reason
    [entry] = offboarding.report["accounts"]
    assert entry["kinds"]["ssh_public_keys"]["remaining"] == 1
    assert entry["kinds"]["login_profile"]["remaining"] == 0
    assert offboarding.attempts == settings.OFFBOARDING_MAX_RETRIES + 1


@pytest.mark.usefixtures("postgres_required")
def test_a_teardown_held_by_another_worker_is_left_to_it(strict, hr_person):
    leaver, _, _ = _leaver_with_loaded_user()
    offboarding = offboarding_start(actor=hr_person, person=leaver, enqueue=False)
    other_worker = connections.create_connection("default")
    try:
        with other_worker.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)",
                [int(LockKey.OFFBOARDING_TEARDOWN), offboarding.pk],
            )
        with pytest.raises(OffboardingBusy):
            offboarding_teardown(offboarding_id=offboarding.pk)
    finally:
        other_worker.close()
    offboarding.refresh_from_db()
    assert offboarding.status == Offboarding.Status.PENDING
    assert aws.read_user("erin.leaver").login_profile
    # Once the other worker is gone (its connection closed), the lock is free again.
    assert offboarding_teardown(offboarding_id=offboarding.pk).status == "completed"


def test_access_is_cut_before_anything_else_is_read_and_the_report_still_counts_it(
    strict, hr_person, django_capture_on_commit_callbacks
):
    leaver, _, _ = _leaver_with_loaded_user("quick.leaver")

    offboarding = _offboard(hr_person, leaver, django_capture_on_commit_callbacks)

    calls = strict.operations("quick.leaver")
    cut_done = max(i for i, name in enumerate(calls) if name == "UpdateAccessKey") + 1
    # Two looks at once (is there a console password to count? which keys work?), then the
    # cut; the full read after.
    assert sorted(calls[:2]) == ["GetLoginProfile", "ListAccessKeys"]
    assert calls[2:cut_done] == ["DeleteLoginProfile", "UpdateAccessKey", "UpdateAccessKey"]
    assert "GetUser" in calls[cut_done:]
    [entry] = offboarding.report["accounts"]
    assert entry["kinds"]["login_profile"] == {"found": 1, "removed": 1, "remaining": 0}
    assert entry["kinds"]["access_keys"] == {"found": 2, "removed": 2, "remaining": 0}
    assert "cut" not in json.loads(offboarding_report_json(offboarding=offboarding))


def test_a_cut_stopped_half_way_keeps_what_aws_did_and_the_next_run_does_only_the_rest(
    strict, hr_person, settings
):
    """The cut records its steps together, at its end: a throttled key deactivation must not
    lose the password deletion that came before it."""
    leaver, _, _ = _leaver_with_loaded_user("halfway.leaver")
    offboarding = offboarding_start(actor=hr_person, person=leaver, enqueue=False)
    settings.AWS_FAULT_INJECTION = "before:ListAccessKeys:throttle=1000"

    with pytest.raises(aws.AwsError):
        offboarding_teardown(offboarding_id=offboarding.pk, cut_only=True)

    offboarding.refresh_from_db()
    assert offboarding.steps_done == ["halfway.leaver:login_profile"]
    assert offboarding.access_cut_at is None
    assert AuditEvent.objects.filter(
        action="iam.login_profile.deleted", target="iam_user:halfway.leaver"
    ).exists()
    settings.AWS_FAULT_INJECTION = ""
    strict.calls.clear()

    offboarding_teardown(offboarding_id=offboarding.pk, cut_only=True)

    offboarding.refresh_from_db()
    assert offboarding.access_cut_at is not None
    assert "DeleteLoginProfile" not in strict.operations("halfway.leaver")
    assert [key.active for key in aws.access_keys_of("halfway.leaver")] == [False, False]
