"""Provisioning recovers: re-runs resume from the recorded steps, transient errors retry, and
the credential email goes out once (eager tasks against in-process moto)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db.models import F
from django.utils import timezone

from audit.models import AuditEvent
from provisioning import aws
from provisioning.credentials import links, notifications
from provisioning.models import AccessKeyRecord, AccessRequest, CredentialLink, IamAccount
from provisioning.onboarding.run import access_request_provision
from provisioning.onboarding.sweep import access_request_retry
from provisioning.tasks import provision_access_request
from tests.provisioning.strict_onboarding import approved_request, use_strict_onboarding

pytestmark = pytest.mark.django_db

Status = AccessRequest.Status
AccessType = AccessRequest.AccessType


class WorkerDied(BaseException):
    """Stands in for SIGKILL: nothing in the portal catches it."""


def _lapse_claim(access_request: AccessRequest) -> None:
    """Make the dead run's claim lapse, as time would."""
    AccessRequest.objects.filter(pk=access_request.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS + 1)
    )


def _run_with_retries(access_request: AccessRequest) -> None:
    """Run the task eagerly, its retries too (an eager task that propagates errors would hand
    the retry back to the caller instead of running it)."""
    from portal.celery import app

    previous = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    try:
        provision_access_request.apply(args=(access_request.pk,))
    finally:
        app.conf.task_eager_propagates = previous


def _keys(user_name: str) -> list[str]:
    return [
        k["AccessKeyId"]
        for k in aws.client().list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    ]


def test_a_run_killed_after_create_user_is_resumed_without_a_second_user(
    strict: Any, employee: Any
) -> None:
    access_request = approved_request(employee)

    def die(**_: Any) -> None:
        raise WorkerDied

    aws.client().meta.events.register("after-call.iam.CreateUser", die)
    with pytest.raises(WorkerDied):
        access_request_provision(request_id=access_request.pk)
    aws.client().meta.events.unregister("after-call.iam.CreateUser", die)
    access_request.refresh_from_db()
    assert access_request.status == Status.PROVISIONING and access_request.steps_done == []
    _lapse_claim(access_request)
    strict.calls.clear()

    assert access_request_provision(request_id=access_request.pk) == "active"

    assert len(aws.client().list_users()["Users"]) == 1
    assert strict.operations().count("CreateUser") == 1  # answered "already exists"
    assert AuditEvent.objects.filter(action="iam.user.adopted").count() == 1
    assert len(mail.outbox) == 1


def test_a_resumed_run_sets_the_password_it_sealed_before_dying(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee, access_type=AccessType.CONSOLE)

    def die(**_: Any) -> None:
        raise WorkerDied

    aws.client().meta.events.register("after-call.iam.CreateLoginProfile", die)
    with pytest.raises(WorkerDied):
        access_request_provision(request_id=access_request.pk)
    aws.client().meta.events.unregister("after-call.iam.CreateLoginProfile", die)
    (first,) = strict.sent("CreateLoginProfile")
    _lapse_claim(access_request)

    access_request_provision(request_id=access_request.pk)

    (update,) = strict.sent("UpdateLoginProfile")
    assert update["Password"] == first["Password"]
    link = CredentialLink.objects.get(request=access_request)
    assert links.credential_link_sealed_password(link=link) == first["Password"]


def test_keys_the_portal_never_recorded_are_deleted_on_retry(
    strict: Any,
    employee: Any,
    security_admin: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    access_request = approved_request(employee, access_type=AccessType.PROGRAMMATIC)
    real_seal = links.credential_link_seal_access_key

    def lose_the_secret(**kwargs: Any) -> None:
        raise RuntimeError("database went away")

    # The key is created in AWS, then recording it fails: its secret is lost for good.
    monkeypatch.setattr(links, "credential_link_seal_access_key", lose_the_secret)
    provision_access_request.delay(access_request.pk)
    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    (orphan,) = _keys(access_request.iam_user_name)
    assert not AccessKeyRecord.objects.exists()
    monkeypatch.setattr(links, "credential_link_seal_access_key", real_seal)

    with django_capture_on_commit_callbacks(execute=True):
        access_request_retry(access_request_id=access_request.pk, actor=security_admin)

    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE
    (key,) = _keys(access_request.iam_user_name)
    assert key != orphan
    assert list(AccessKeyRecord.objects.values_list("access_key_id", flat=True)) == [key]
    deleted = AuditEvent.objects.get(action="iam.access_key.deleted")
    assert deleted.data["access_key_id"] == orphan
    assert "not recorded" in deleted.data["reason"]


def test_a_run_killed_after_the_credential_email_never_sends_a_second_one(
    strict: Any, employee: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    access_request = approved_request(employee)
    real_send = notifications.credential_link_sent

    def send_then_die(**kwargs: Any) -> None:
        real_send(**kwargs)
        raise WorkerDied

    monkeypatch.setattr(notifications, "credential_link_sent", send_then_die)
    with pytest.raises(WorkerDied):
        access_request_provision(request_id=access_request.pk)
    monkeypatch.setattr(notifications, "credential_link_sent", real_send)
    _lapse_claim(access_request)

    access_request_provision(request_id=access_request.pk)

    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE
    assert len(mail.outbox) == 1
    # It cannot know whether the email left before the crash: it says so, for a person to check.
    assert access_request.credential_email_unconfirmed
    assert access_request.failure_reason == ""


def test_an_email_that_cannot_be_sent_is_retried_with_a_fresh_link(
    strict: Any, employee: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    access_request = approved_request(employee)
    real_send = notifications.credential_link_sent
    tokens: list[str] = []

    def flaky_send(**kwargs: Any) -> None:
        tokens.append(kwargs["token"])
        if len(tokens) == 1:
            raise ConnectionRefusedError("mail server down")
        real_send(**kwargs)

    monkeypatch.setattr(notifications, "credential_link_sent", flaky_send)

    _run_with_retries(access_request)

    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE
    assert access_request.failure_reason == ""
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    (message,) = mail.outbox
    assert tokens[1] in message.body
    link = CredentialLink.objects.get(request=access_request)
    assert link.token_hash == links.token_hash(tokens[1])


def test_throttling_twice_is_retried_by_the_task(strict: Any, employee: Any, settings: Any) -> None:
    settings.AWS_MAX_ATTEMPTS = 1  # botocore's retries off: the task must retry
    settings.AWS_FAULT_INJECTION = "before:CreateUser:throttle=2"
    aws.reset_clients()
    use_strict_onboarding(settings)
    access_request = approved_request(employee)

    _run_with_retries(access_request)

    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE
    assert access_request.attempts == 3
    assert AuditEvent.objects.filter(action="request.provisioning_deferred").count() == 2


def test_throttling_that_never_stops_fails_the_request_after_the_last_retry(
    strict: Any, employee: Any, settings: Any
) -> None:
    settings.AWS_MAX_ATTEMPTS = 1
    settings.AWS_FAULT_INJECTION = "before:CreateUser:throttle=1000"
    aws.reset_clients()
    use_strict_onboarding(settings)
    access_request = approved_request(employee)

    _run_with_retries(access_request)

    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert access_request.attempts == settings.PROVISIONING_MAX_RETRIES + 1
    assert "kept failing with a temporary error" in access_request.failure_reason


def test_limit_exceeded_fails_at_once_and_emails_admins_and_requester(
    strict: Any,
    employee: Any,
    security_admin: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.AWS_FAULT_INJECTION = "before:CreateUser:error=LimitExceeded"
    access_request = approved_request(employee)

    provision_access_request.delay(access_request.pk)

    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert access_request.attempts == 1
    assert access_request.failure_reason.startswith(
        "AWS refused to create the IAM user: the account has reached an IAM quota"
    )
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert access_request.failure_reason in by_recipient[(security_admin.email,)].body
    assert "could not be set up" in by_recipient[(employee.email,)].subject
    assert access_request.failure_reason not in by_recipient[(employee.email,)].body

    settings.AWS_FAULT_INJECTION = ""
    with django_capture_on_commit_callbacks(execute=True):
        access_request_retry(access_request_id=access_request.pk, actor=security_admin)

    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE and access_request.failure_reason == ""


def test_a_person_who_left_meanwhile_is_not_provisioned(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee)
    employee.is_active = False
    employee.save()

    provision_access_request.delay(access_request.pk)

    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert "has left" in access_request.failure_reason
    assert strict.calls == []


def test_a_bug_fails_the_request_instead_of_looping(
    strict: Any, employee: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    access_request = approved_request(employee)
    monkeypatch.setattr(aws, "ensure_user", lambda *a, **k: 1 / 0)

    provision_access_request.delay(access_request.pk)

    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert "unexpected error (ZeroDivisionError)" in access_request.failure_reason


def test_a_run_that_lost_its_claim_records_nothing(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee)

    def another_run_takes_over(**_: Any) -> None:
        AccessRequest.objects.filter(pk=access_request.pk).update(attempts=F("attempts") + 1)

    aws.client().meta.events.register("after-call.iam.CreateUser", another_run_takes_over)

    assert access_request_provision(request_id=access_request.pk) == "skipped"

    access_request.refresh_from_db()
    assert access_request.status == Status.PROVISIONING
    assert access_request.steps_done == []
    assert not IamAccount.objects.exists()
    assert mail.outbox == []
