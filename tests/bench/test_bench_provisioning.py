"""Benchmark (`make bench`, not `make test`): 200 approved requests provisioned by 2 worker
processes against a local moto server, compared with a bare boto3 loop making the same IAM
calls against the same server.

Printed: requests per second, the ratio to the bare loop (goal >= 0.7), and IAM calls per user
(counted from the audit rows, which carry the AWS request id of every call a step made).
The bare loop runs in its own process, like the workers, so it does not share the moto
server's interpreter lock."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from audit.models import AuditEvent
from provisioning.models import AccessRequest
from provisioning.tasks import provision_access_request
from tests.factories import RoleGroupFactory, UserFactory
from tests.worker import running_worker, wait_until

REQUESTS = 200
WORKERS = 2
GROUP = "bench-developers"

BARE_LOOP = textwrap.dedent(
    """
    import json, sys, time
    import boto3, botocore.config
    endpoint, prefix, count, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    iam = boto3.session.Session().client(
        "iam", endpoint_url=endpoint, region_name="us-east-1",
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    calls = 0
    start = time.perf_counter()
    for n in range(count):
        name = f"{prefix}{n}"
        iam.create_user(UserName=name, Tags=[
            {"Key": "portal:managed-by", "Value": "iam-access-portal"},
            {"Key": "portal:owner", "Value": f"{name}@example.com"},
            {"Key": "portal:request-id", "Value": str(n)},
        ])
        iam.add_user_to_group(UserName=name, GroupName=group)
        try:
            iam.get_account_password_policy()
        except iam.exceptions.NoSuchEntityException:
            pass
        iam.create_login_profile(
            UserName=name, Password="Bench-Password-1234!x", PasswordResetRequired=True
        )
        iam.create_access_key(UserName=name)
        calls += 5
    print(json.dumps({"seconds": time.perf_counter() - start, "calls": calls}))
    """
)


def _cpu_seconds(match: Any) -> float:
    """CPU time used so far by the processes `match(pid, comm, pgid)` accepts (from /proc)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if match(int(entry.name), comm, int(fields[2])):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _cpu_snapshot(worker_groups: list[int]) -> dict[str, float]:
    return {
        "moto server (test process)": time.process_time(),
        "worker main processes": _cpu_seconds(lambda pid, comm, pgid: pid in worker_groups),
        "worker pool processes": _cpu_seconds(
            lambda pid, comm, pgid: pgid in worker_groups and pid not in worker_groups
        ),
        "postgres": _cpu_seconds(lambda pid, comm, pgid: comm == "postgres"),
        "redis": _cpu_seconds(lambda pid, comm, pgid: comm.startswith("redis")),
    }


def _reset(moto_url: str) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 (local moto server)
    boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1").create_group(
        GroupName=GROUP
    )


def _bare_loops(moto_url: str, processes: int, per_process: int) -> float:
    """Requests (users) per second of `processes` bare boto3 loops run side by side."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    cpu = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    running = [
        subprocess.Popen(
            [sys.executable, "-c", BARE_LOOP, moto_url, f"bare{p}-", str(per_process), GROUP],
            stdout=subprocess.PIPE,
            env=env,
        )
        for p in range(processes)
    ]
    for process in running:
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0
        json.loads(out)
    elapsed = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    loops_cpu = children.ru_utime + children.ru_stime - cpu[1].ru_utime - cpu[1].ru_stime
    users = processes * per_process
    moto_cpu = time.process_time() - cpu[0]
    print(
        f"\n[bench] bare loop x{processes} CPU ms per user: boto3 loops "
        f"{loops_cpu * 1000 / users:.0f}, moto server {moto_cpu * 1000 / users:.0f}"
    )
    return users / elapsed


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_bench_provisioning_200_requests_with_2_workers(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    _reset(aws_server)
    bare_one = _bare_loops(aws_server, 1, REQUESTS)
    _reset(aws_server)
    bare_two = _bare_loops(aws_server, WORKERS, REQUESTS // WORKERS)
    _reset(aws_server)

    role_group = RoleGroupFactory(iam_group_name=GROUP, managed_policy_arns=[])
    people = UserFactory.create_batch(REQUESTS)
    requests = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=person,
            role_group=role_group,
            access_type=AccessRequest.AccessType.BOTH,
            justification="Benchmark request: console and an access key.",
            status=AccessRequest.Status.APPROVED,
            iam_user_name=f"bench-{person.pk}",
        )
        for person in people
    )
    ids = [r.pk for r in requests]
    outbox = tmp_path / "outbox"
    # A long visibility timeout: no task is handed out twice during the run.
    options: dict[str, Any] = {
        "moto_url": aws_server,
        "redis_url": redis_url,
        "outbox": outbox,
        "visibility_timeout": 3600,
    }
    with running_worker(**options) as first, running_worker(**options) as second:
        groups = [first.process.pid, second.process.pid]
        cpu_before = _cpu_snapshot(groups)
        started = time.perf_counter()
        for pk in ids:
            provision_access_request.delay(pk)
        wait_until(
            lambda: (
                AccessRequest.objects.filter(pk__in=ids, status=AccessRequest.Status.ACTIVE).count()
                == REQUESTS
            ),
            timeout=600,
            interval=0.05,
        )
        elapsed = time.perf_counter() - started
        cpu_after = _cpu_snapshot(groups)

    portal = REQUESTS / elapsed
    calls = sum(
        len(event.data.get("aws_request_ids", []))
        for event in AuditEvent.objects.filter(target__in=[f"access_request:{pk}" for pk in ids])
    )
    iam = boto3.client("iam", endpoint_url=aws_server, region_name="us-east-1")
    assert len(iam.list_users(MaxItems=1000)["Users"]) == REQUESTS
    print(
        f"\n[bench] {REQUESTS} requests, {WORKERS} worker processes: {elapsed:.2f}s, "
        f"{portal:.1f} requests/s"
        f"\n[bench] bare boto3 loop, 1 process: {bare_one:.1f} users/s -> "
        f"ratio {portal / bare_one:.2f} (goal >= 0.7)"
        f"\n[bench] bare boto3 loops, {WORKERS} processes: {bare_two:.1f} users/s -> "
        f"ratio {portal / bare_two:.2f}"
        f"\n[bench] IAM calls per user: {calls / REQUESTS:.2f}"
        f"\n[bench] CPU ms per request: "
        + ", ".join(
            f"{name} {(cpu_after[name] - cpu_before[name]) * 1000 / REQUESTS:.0f}"
            for name in cpu_before
        )
        + f" (on {os.cpu_count()} CPUs)"
    )
