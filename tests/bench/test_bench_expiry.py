"""Benchmark (`make bench`, not `make test`): 1,000 grants past their end, expired by the
portal (the beat job's service decides, in this process; 2 worker processes remove them from
IAM) against a local moto server, compared with a bare boto3 loop making the same
RemoveUserFromGroup calls against the same server.

Printed: grants per second from the decision to the last grant ended, the ratio to one bare
loop and to two bare loops side by side, the IAM calls per grant (from the audit rows, which
carry each call's request id), and the time the decision alone took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.lifecycle.expiry import grants_expire
from provisioning.models import Grant, IamAccount
from tests.factories import RoleGroupFactory, UserFactory
from tests.worker import running_worker, wait_until

GRANTS = 1000
WORKERS = 2
GROUP = "bench-expiring"

BARE_LOOP = textwrap.dedent(
    """
    import json, sys, time
    import boto3, botocore.config
    endpoint, prefix, start, count, group = sys.argv[1:6]
    iam = boto3.session.Session().client(
        "iam", endpoint_url=endpoint, region_name="us-east-1",
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    began = time.perf_counter()
    for n in range(int(start), int(start) + int(count)):
        iam.remove_user_from_group(UserName=f"{prefix}{n}", GroupName=group)
    print(json.dumps({"seconds": time.perf_counter() - began}))
    """
)

SETUP = textwrap.dedent(
    """
    import sys
    import boto3
    endpoint, prefix, count, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    for n in range(count):
        name = f"{prefix}{n}"
        try:
            iam.create_user(UserName=name)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        iam.add_user_to_group(UserName=name, GroupName=group)
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _run(script: str, *args: object) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return done.stdout


def _reset(moto_url: str) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 (local moto server)
    boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1").create_group(
        GroupName=GROUP
    )


def _bare(moto_url: str, processes: int) -> float:
    """RemoveUserFromGroup calls per second of `processes` bare loops side by side."""
    _run(SETUP, moto_url, "bare", GRANTS, GROUP)
    per = GRANTS // processes
    started = time.perf_counter()
    running = [
        subprocess.Popen(
            [sys.executable, "-c", BARE_LOOP, moto_url, "bare", str(p * per), str(per), GROUP],
            stdout=subprocess.PIPE,
            env=_env(),
        )
        for p in range(processes)
    ]
    for process in running:
        out, _ = process.communicate(timeout=900)
        assert process.returncode == 0
        json.loads(out)
    return GRANTS / (time.perf_counter() - started)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_bench_expiry_of_1000_grants_with_2_workers(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    _reset(aws_server)
    bare_one = _bare(aws_server, 1)
    bare_two = _bare(aws_server, WORKERS)

    _run(SETUP, aws_server, "portal", GRANTS, GROUP)
    role_group = RoleGroupFactory(iam_group_name=GROUP, managed_policy_arns=[])
    people = UserFactory.create_batch(GRANTS)
    accounts = IamAccount.objects.bulk_create(
        IamAccount(owner=person, user_name=f"portal{n}") for n, person in enumerate(people)
    )
    yesterday = timezone.localdate() - timedelta(days=1)
    Grant.objects.bulk_create(
        Grant(iam_account=account, role_group=role_group, ends_on=yesterday) for account in accounts
    )
    options: dict[str, Any] = {
        "moto_url": aws_server,
        "redis_url": redis_url,
        "outbox": tmp_path / "outbox",
        "visibility_timeout": 3600,
    }
    with running_worker(**options), running_worker(**options):
        started = time.perf_counter()
        expired = grants_expire()
        decided = time.perf_counter() - started
        wait_until(
            lambda: not Grant.objects.filter(revoked_at__isnull=True).exists(),
            timeout=900,
            interval=0.1,
        )
        elapsed = time.perf_counter() - started

    assert len(expired) == GRANTS
    iam = boto3.client("iam", endpoint_url=aws_server, region_name="us-east-1")
    assert iam.get_group(GroupName=GROUP, MaxItems=1000)["Users"] == []
    calls = sum(
        len(event.data.get("aws_request_ids", []))
        for event in AuditEvent.objects.filter(action="iam.group.removed")
    )
    portal = GRANTS / elapsed
    print(
        f"\n[bench] {GRANTS} grants expired, {WORKERS} worker processes: {elapsed:.2f}s, "
        f"{portal:.1f} grants/s (the decision, in this process: {decided:.2f}s)"
        f"\n[bench] bare boto3 loop, 1 process: {bare_one:.1f} RemoveUserFromGroup/s -> "
        f"ratio {portal / bare_one:.2f}"
        f"\n[bench] bare boto3 loops, {WORKERS} processes: {bare_two:.1f}/s -> "
        f"ratio {portal / bare_two:.2f}"
        f"\n[bench] IAM calls per grant: {calls / GRANTS:.2f} (on {os.cpu_count()} CPUs)"
    )
