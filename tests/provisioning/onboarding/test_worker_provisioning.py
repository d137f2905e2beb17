"""Provisioning by a real Celery worker process on Redis, against a moto server.

Each test commits its rows (`transaction=True`) so the worker, another process, sees them; the
worker's emails land in an outbox folder; faults are injected at the AWS boundary through the
worker's environment (provisioning/aws.py)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.test import Client

from provisioning.models import AccessRequest, Approval, IamAccount
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.submit import access_request_submit
from tests.factories import RoleGroupFactory
from tests.worker import broker_down, read_outbox, running_worker, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_required"),
]

Status = AccessRequest.Status
AccessType = AccessRequest.AccessType
LINK = re.compile(r"/access/credentials/([A-Za-z0-9_\-]+)/")
JUSTIFICATION = "Needs to run the nightly data pipeline and debug it in the console."

# Short limits so a crashed run's claim lapses, and stuck requests are swept, within seconds.
QUICK = {
    "CELERY_TASK_SOFT_TIME_LIMIT": "8",
    "CELERY_TASK_TIME_LIMIT": "10",
    "PROVISIONING_LEASE_SECONDS": "12",
    "PROVISIONING_RETRY_BASE_SECONDS": "1",
    "PROVISIONING_RETRY_MAX_SECONDS": "2",
    "PROVISIONING_STALE_SECONDS": "3",
    "PROVISIONING_SWEEP_SECONDS": "1",
}


def _iam(moto_url: str) -> Any:
    return boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")


def _submit_and_approve(employee: Any, manager: Any, access_type: str) -> AccessRequest:
    role_group = RoleGroupFactory(managed_policy_arns=[])
    (access_request,) = access_request_submit(
        requester=employee,
        access_type=access_type,
        justification=JUSTIFICATION,
        role_group=role_group,
    )
    return access_request_approve(access_request_id=access_request.pk, actor=manager)


def _status(pk: int) -> str:
    return AccessRequest.objects.values_list("status", flat=True).get(pk=pk)


def _credential_emails(outbox: Path) -> list[Any]:
    return [m for m in read_outbox(outbox) if LINK.search(m.get_content())]


def _revealed_value(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found, element_id
    return html.unescape(found.group(1))


def test_an_approved_request_is_provisioned_by_the_worker_and_revealed_once(
    aws_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    outbox = tmp_path / "outbox"
    with running_worker(moto_url=aws_server, redis_url=redis_url, outbox=outbox) as worker:
        access_request = _submit_and_approve(employee, manager, AccessType.BOTH)
        wait_until(lambda: _status(access_request.pk) == Status.ACTIVE, timeout=60)
        worker_log = worker.log()

    access_request.refresh_from_db()
    name = access_request.iam_user_name
    iam = _iam(aws_server)
    assert [u["UserName"] for u in iam.list_users()["Users"]] == [name]
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]}
    assert tags["portal:request-id"] == str(access_request.pk)
    assert tags["portal:owner"] == employee.email
    groups = [g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]]
    assert groups == [access_request.role_group.iam_group_name]
    assert iam.get_login_profile(UserName=name)["LoginProfile"]
    (key,) = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]

    (message,) = _credential_emails(outbox)
    assert message["To"] == employee.email
    token = LINK.search(message.get_content()).group(1)
    path = f"/access/credentials/{token}/"

    recipient = Client()
    recipient.force_login(employee)
    confirm = recipient.get(path)
    assert confirm.status_code == 200
    assert "Show my credentials" in confirm.content.decode()
    revealed = recipient.post(path)
    assert revealed.status_code == 200
    page = revealed.content.decode()
    assert _revealed_value(page, "cred-user") == name
    assert _revealed_value(page, "cred-access-key-id") == key["AccessKeyId"]
    password = _revealed_value(page, "cred-password")
    secret = _revealed_value(page, "cred-secret-access-key")
    assert len(password) >= 20 and len(secret) >= 20

    again = recipient.post(path)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    someone_else = Client()
    someone_else.force_login(manager)
    assert someone_else.get(path).status_code == 404
    assert someone_else.post(path).status_code == 404

    everything_sent = "\n".join(m.as_string() for m in read_outbox(outbox))
    for secret_value in (password, secret):
        assert secret_value not in everything_sent
        assert secret_value not in worker_log


def test_programmatic_access_is_created_only_when_asked_for(
    aws_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    with running_worker(moto_url=aws_server, redis_url=redis_url, outbox=tmp_path / "outbox"):
        access_request = _submit_and_approve(employee, manager, AccessType.CONSOLE)
        wait_until(lambda: _status(access_request.pk) == Status.ACTIVE, timeout=60)

    name = access_request.iam_user_name
    assert _iam(aws_server).get_login_profile(UserName=name)["LoginProfile"]
    assert _iam(aws_server).list_access_keys(UserName=name)["AccessKeyMetadata"] == []


def test_a_worker_killed_right_after_create_user_is_resumed_without_duplicates(
    aws_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    outbox = tmp_path / "outbox"
    with running_worker(
        moto_url=aws_server,
        redis_url=redis_url,
        outbox=outbox,
        beat=True,
        extra_env={**QUICK, "AWS_FAULT_INJECTION": "after:CreateUser:sleep=30"},
    ) as worker:
        access_request = _submit_and_approve(employee, manager, AccessType.BOTH)
        worker.wait_for_log("sleeping 30s after CreateUser", timeout=60)
        worker.kill()
        name = access_request.iam_user_name
        assert [u["UserName"] for u in _iam(aws_server).list_users()["Users"]] == [name]
        assert _status(access_request.pk) == Status.PROVISIONING
        assert _credential_emails(outbox) == []

        worker.start()
        wait_until(lambda: _status(access_request.pk) == Status.ACTIVE, timeout=90)

    access_request.refresh_from_db()
    assert access_request.attempts >= 2
    assert [u["UserName"] for u in _iam(aws_server).list_users()["Users"]] == [name]
    assert len(_iam(aws_server).list_access_keys(UserName=name)["AccessKeyMetadata"]) == 1
    assert IamAccount.objects.filter(owner=employee).count() == 1
    assert len(_credential_emails(outbox)) == 1


def test_an_approval_made_while_the_broker_is_down_is_kept_and_provisioned_later(
    aws_server: str,
    redis_url: str,
    tmp_path: Path,
    employee: Any,
    manager: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with broker_down():
        approved = _submit_and_approve(employee, manager, AccessType.PROGRAMMATIC)

    assert _status(approved.pk) == Status.APPROVED
    assert Approval.objects.filter(request_id=approved.pk, approver=manager).exists()
    assert "sweeper will enqueue it later" in caplog.text

    outbox = tmp_path / "outbox"
    with running_worker(
        moto_url=aws_server, redis_url=redis_url, outbox=outbox, beat=True, extra_env=QUICK
    ):
        wait_until(lambda: _status(approved.pk) == Status.ACTIVE, timeout=60)

    assert len(_credential_emails(outbox)) == 1


def test_throttling_twice_is_retried_and_the_request_ends_active(
    aws_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    # botocore's own retries off, so the throttling reaches the task, which must retry.
    env = {**QUICK, "AWS_MAX_ATTEMPTS": "1", "AWS_FAULT_INJECTION": "before:CreateUser:throttle=2"}
    with running_worker(
        moto_url=aws_server, redis_url=redis_url, outbox=tmp_path / "outbox", extra_env=env
    ) as worker:
        access_request = _submit_and_approve(employee, manager, AccessType.CONSOLE)
        wait_until(lambda: _status(access_request.pk) == Status.ACTIVE, timeout=60)
        log = worker.log()

    access_request.refresh_from_db()
    assert access_request.attempts == 3
    assert log.count("retry: Retry in") == 2


def test_limit_exceeded_fails_readably_emails_admins_and_a_retry_succeeds_once_fixed(
    aws_server: str,
    redis_url: str,
    tmp_path: Path,
    employee: Any,
    manager: Any,
    security_admin: Any,
) -> None:
    outbox = tmp_path / "outbox"
    env = {**QUICK, "AWS_FAULT_INJECTION": "before:CreateUser:error=LimitExceeded"}
    with running_worker(
        moto_url=aws_server, redis_url=redis_url, outbox=outbox, extra_env=env
    ) as worker:
        access_request = _submit_and_approve(employee, manager, AccessType.BOTH)
        wait_until(lambda: _status(access_request.pk) == Status.FAILED, timeout=60)
        access_request.refresh_from_db()
        assert "reached an IAM quota" in access_request.failure_reason
        assert "LimitExceeded" in access_request.failure_reason
        failure_mail = wait_until(
            lambda: [m for m in read_outbox(outbox) if "Provisioning failed" in m["Subject"]]
        )
        assert failure_mail[0]["To"] == security_admin.email
        assert access_request.failure_reason in failure_mail[0].get_content().replace("\n", " ")
        assert any(
            m["To"] == employee.email and "could not be set up" in m["Subject"]
            for m in read_outbox(outbox)
        )

        # The cause is fixed (the quota raised): the worker no longer meets the error.
        worker.stop()
        worker.env["AWS_FAULT_INJECTION"] = ""
        worker.start()
        admin = Client()
        admin.force_login(security_admin)
        response = admin.post(f"/access/operations/requests/{access_request.pk}/retry/")
        assert response.status_code == 302
        wait_until(lambda: _status(access_request.pk) == Status.ACTIVE, timeout=60)

    assert len(_credential_emails(outbox)) == 1
