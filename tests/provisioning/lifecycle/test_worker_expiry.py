"""Expiry and revocation by a real Celery worker process (with beat) on Redis, against a moto
server: a grant past its end leaves IAM and is kept as expired, with its emails; a SIGKILL
mid-removal is resumed; throttling is retried; a sync afterwards does not bring it back;
warnings go out once each however often beat runs.

Time travel: the grants are asked for and granted "in the past" (time-machine, in this
process, provisioning eagerly against the moto server), so their end has passed in the
worker's real time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.catalogue.services import catalogue_sync
from provisioning.lifecycle.ending import grant_revoke
from provisioning.models import AccessRequest, Grant, RoleGroup
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.submit import access_request_submit
from tests.factories import RoleGroupFactory, UserFactory
from tests.worker import read_outbox, running_worker, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_required"),
]

JUSTIFICATION = "Needed for the quarterly close and its reconciliations."
# Beat every second; a removal's claim and retries within seconds.
QUICK = {
    "LIFECYCLE_SWEEP_SECONDS": "1",
    "LIFECYCLE_RETRY_BASE_SECONDS": "1",
    "LIFECYCLE_RETRY_MAX_SECONDS": "2",
    "LIFECYCLE_STALE_SECONDS": "3",
    "PROVISIONING_SWEEP_SECONDS": "60",
}


def _iam(moto_url: str) -> Any:
    return boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")


def _groups(moto_url: str, user_name: str) -> list[str]:
    return [
        g["GroupName"] for g in _iam(moto_url).list_groups_for_user(UserName=user_name)["Groups"]
    ]


def _granted(person: Any, approver: Any, *, days_ago: int, days: int) -> Grant:
    """Asked for and granted `days_ago` days ago, for `days` days (provisioned eagerly here,
    against the moto server)."""
    role_group = RoleGroupFactory(managed_policy_arns=[], max_duration_days=90)
    with time_machine.travel(timezone.now() - timedelta(days=days_ago)):
        (request,) = access_request_submit(
            requester=person,
            access_type="console",
            justification=JUSTIFICATION,
            role_group=role_group,
            end_date=timezone.localdate() + timedelta(days=days),
        )
        access_request_approve(access_request_id=request.pk, actor=approver)
    request.refresh_from_db()
    assert request.status == AccessRequest.Status.ACTIVE, request.failure_reason
    return Grant.objects.select_related("iam_account", "role_group").get(request=request)


def _state(grant: Grant) -> str:
    return Grant.objects.get(pk=grant.pk).state


def test_the_worker_expires_a_grant_past_its_end_emails_once_and_a_sync_does_not_undo_it(
    aws_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    expired = _granted(employee, manager, days_ago=31, days=30)  # ended yesterday
    week = _granted(UserFactory(manager=manager), manager, days_ago=0, days=7)
    day = _granted(UserFactory(manager=manager), manager, days_ago=0, days=1)
    user_name = expired.iam_account.user_name
    assert _groups(aws_server, user_name) == [expired.role_group.iam_group_name]

    outbox = tmp_path / "outbox"
    with running_worker(
        moto_url=aws_server, redis_url=redis_url, outbox=outbox, beat=True, extra_env=QUICK
    ) as worker:
        wait_until(lambda: _state(expired) == Grant.State.ENDED, timeout=60)
        # Let beat run a few more times: nothing is sent twice.
        worker.wait_for_log("end_due_grants", timeout=10)
        wait_until(lambda: worker.log().count("end_due_grants") >= 8, timeout=30)

    assert _groups(aws_server, user_name) == []
    expired.refresh_from_db()
    assert expired.end == Grant.End.EXPIRED and expired.revoked_at is not None
    assert AuditEvent.objects.filter(action="grant.expired", data__grant=expired.pk).count() == 1
    removed = AuditEvent.objects.get(action="iam.group.removed", data__grant=expired.pk)
    assert removed.data["removed"] is True and removed.data["aws_request_ids"]
    messages = read_outbox(outbox)
    (ended,) = [m for m in messages if "has ended" in m["Subject"]]
    assert sorted(a.strip() for a in ended["To"].split(",")) == sorted(
        [employee.email, manager.email]
    )
    warnings = [m for m in messages if "ends soon" in m["Subject"]]
    assert sorted(m["To"] for m in warnings) == sorted(
        [week.iam_account.owner.email, day.iam_account.owner.email]
    )
    assert [Grant.objects.get(pk=g.pk).state for g in (week, day)] == ["active", "active"]

    # A sync of the catalogue afterwards never re-adds the ended membership.
    RoleGroup.objects.update(managed_policy_arns=[])
    catalogue_sync()
    assert _groups(aws_server, user_name) == []


def test_a_worker_killed_mid_removal_is_resumed_and_the_grant_ends_once(
    aws_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    grant = _granted(employee, manager, days_ago=11, days=10)
    user_name = grant.iam_account.user_name
    outbox = tmp_path / "outbox"
    with running_worker(
        moto_url=aws_server,
        redis_url=redis_url,
        outbox=outbox,
        beat=True,
        extra_env={**QUICK, "AWS_FAULT_INJECTION": "after:RemoveUserFromGroup:sleep=30"},
    ) as worker:
        worker.wait_for_log("sleeping 30s after RemoveUserFromGroup", timeout=60)
        worker.kill()
        # Removed in AWS, but the step was never recorded: the grant is still ending.
        assert _groups(aws_server, user_name) == []
        assert _state(grant) == Grant.State.ENDING
        assert not [m for m in read_outbox(outbox) if "has ended" in m["Subject"]]

        worker.env["AWS_FAULT_INJECTION"] = ""
        worker.start()
        wait_until(lambda: _state(grant) == Grant.State.ENDED, timeout=90)
        # The email goes out once the ending commits: wait for it before stopping the worker.
        wait_until(
            lambda: [m for m in read_outbox(outbox) if "has ended" in m["Subject"]], timeout=30
        )

    grant.refresh_from_db()
    assert grant.attempts >= 2 and grant.steps_done == ["group"]
    (removed,) = AuditEvent.objects.filter(action="iam.group.removed", data__grant=grant.pk)
    assert removed.data["removed"] is False  # the killed run had done it already
    assert AuditEvent.objects.filter(action="grant.expired").count() == 1
    assert len([m for m in read_outbox(outbox) if "has ended" in m["Subject"]]) == 1


def test_a_revocation_leaves_aws_within_seconds_even_when_aws_throttles(
    aws_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    grant = _granted(employee, manager, days_ago=0, days=30)
    env = {
        **QUICK,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_FAULT_INJECTION": "before:RemoveUserFromGroup:throttle=2",
    }
    with running_worker(
        moto_url=aws_server, redis_url=redis_url, outbox=tmp_path / "outbox", extra_env=env
    ) as worker:
        grant_revoke(grant_id=grant.pk, actor=manager, reason="Moved to another team.")
        wait_until(lambda: _state(grant) == Grant.State.ENDED, timeout=30)
        log = worker.log()

    grant.refresh_from_db()
    assert grant.attempts == 3 and grant.end == Grant.End.REVOKED
    assert log.count("retry: Retry in") == 2
    assert grant.revoked_at - grant.end_requested_at < timedelta(seconds=15)
    assert _groups(aws_server, grant.iam_account.user_name) == []
