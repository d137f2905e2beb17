"""Benchmark (`make bench`, not `make test`): approved requests provisioned by 1, 2 and 4 worker
processes against a local moto server, each beside 1, 2 and 4 bare boto3 loops making the same
IAM calls against the same server in the same run (equal concurrency; goal >= 0.9).

Printed per concurrency: requests per second, the ratio to the bare loops, IAM calls per user
(counted from the audit rows, which carry the AWS request id of every call a step made), SQL
statements and commits per request (counted in the workers, tests/sql_counter.py) and CPU per
request by process kind. Each loop runs in its own process, like the workers, so it does not
share the moto server's interpreter lock.

`-k provisioning_with_iam_far_away` runs the same rounds through a proxy that holds each IAM
call 60 ms, as AWS a network away answers: there the portal's own work runs beside the
round trips instead of in place of them."""

from __future__ import annotations

import contextlib
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
import redis

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.models import AccessRequest
from provisioning.tasks import provision_access_request
from tests import sql_counter
from tests.factories import RoleGroupFactory, UserFactory
from tests.throttle_proxy import FAR_LATENCY, far_iam
from tests.worker import running_worker, wait_until

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
# Far away, each user's 5 calls take 5 x FAR_LATENCY at least: fewer of them.
FAR_REQUESTS = int(os.environ.get("BENCH_FAR_REQUESTS", "60"))
CONCURRENCIES = (1, 2, 4)
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
    # As a catalogue sync leaves the account: provisioning checks the group's MFA policy.
    gateway.ensure_mfa_policy(gateway.whoami().account)


def _bare_loops(moto_url: str, processes: int, per_process: int) -> tuple[float, float]:
    """Users per second of `processes` bare boto3 loops run side by side, and their CPU
    seconds per user."""
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
        f"{loops_cpu * 1000 / users:.1f}, moto server {moto_cpu * 1000 / users:.1f}"
    )
    return users / elapsed, loops_cpu / users


def _seed(role_group: Any, prefix: str, count: int) -> list[int]:
    people = UserFactory.create_batch(count)
    requests = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=person,
            role_group=role_group,
            access_type=AccessRequest.AccessType.BOTH,
            justification="Benchmark request: console and an access key.",
            status=AccessRequest.Status.APPROVED,
            iam_user_name=f"{prefix}{person.pk}",
        )
        for person in people
    )
    return [r.pk for r in requests]


def _portal(
    processes: int, ids: list[int], options: dict[str, Any], counters: Any
) -> dict[str, float]:
    """Provision `ids` with `processes` worker processes; their rate and costs per request."""
    with contextlib.ExitStack() as stack:
        workers = [stack.enter_context(running_worker(**options)) for _ in range(processes)]
        groups = [worker.process.pid for worker in workers if worker.process]
        counters.delete(sql_counter.STATEMENTS, sql_counter.COMMITS, sql_counter.TASKS)
        cpu_before = _cpu_snapshot(groups)
        started = time.perf_counter()
        for pk in ids:
            provision_access_request.delay(pk)
        wait_until(
            lambda: (
                not AccessRequest.objects.filter(
                    pk__in=ids,
                    status__in=[AccessRequest.Status.APPROVED, AccessRequest.Status.PROVISIONING],
                ).exists()
            ),
            timeout=600,
            interval=0.05,
        )
        elapsed = time.perf_counter() - started
        cpu_after = _cpu_snapshot(groups)
    not_active = set(
        AccessRequest.objects.filter(pk__in=ids)
        .exclude(status=AccessRequest.Status.ACTIVE)
        .values_list("failure_reason", flat=True)
    )
    assert not not_active, not_active
    calls = sum(
        len(event.data.get("aws_request_ids", []))
        for event in AuditEvent.objects.filter(target__in=[f"access_request:{pk}" for pk in ids])
    )
    cpu = {name: (cpu_after[name] - cpu_before[name]) / len(ids) for name in cpu_before}
    return {
        "rate": len(ids) / elapsed,
        "calls": calls / len(ids),
        "statements": int(counters.get(sql_counter.STATEMENTS) or 0) / len(ids),
        "commits": int(counters.get(sql_counter.COMMITS) or 0) / len(ids),
        "tasks": int(counters.get(sql_counter.TASKS) or 0),
        **cpu,
    }


def _rounds(
    moto_url: str, endpoint: str, redis_url: str, outbox: Path, requests: int, label: str
) -> list[str]:
    """Each concurrency's round: its bare loops, then the portal's workers, both calling IAM
    at `endpoint` (the moto server at `moto_url`, or a proxy in front of it)."""
    role_group = RoleGroupFactory(iam_group_name=GROUP, managed_policy_arns=[])
    counters = redis.Redis.from_url(redis_url)
    # A long visibility timeout: no task is handed out twice during the run.
    options: dict[str, Any] = {
        "moto_url": endpoint,
        "redis_url": redis_url,
        "outbox": outbox,
        "visibility_timeout": 3600,
        "extra_env": {"PORTAL_COUNT_SQL": "1"},
    }
    lines = []
    for processes in CONCURRENCIES:
        _reset(moto_url)
        bare, bare_cpu = _bare_loops(endpoint, processes, requests // processes)
        _reset(moto_url)
        ids = _seed(role_group, f"bench{processes}-", requests)
        portal = _portal(processes, ids, options, counters)
        iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
        assert len(iam.list_users(MaxItems=1000)["Users"]) == requests
        worker_cpu = portal["worker pool processes"] + portal["worker main processes"]
        lines.append(
            f"[bench] {label}x{processes}: portal {portal['rate']:.1f} req/s vs {processes} "
            f"bare loop(s) {bare:.1f} users/s -> ratio {portal['rate'] / bare:.2f} "
            f"(goal >= 0.9); SQL per request {portal['statements']:.1f} statements + "
            f"{portal['commits']:.1f} COMMIT; worker CPU per request {worker_cpu * 1000:.1f} ms "
            f"(bare loop {bare_cpu * 1000:.1f} ms per user); moto "
            f"{portal['moto server (test process)'] * 1000:.1f} ms, postgres "
            f"{portal['postgres'] * 1000:.1f} ms, redis {portal['redis'] * 1000:.1f} ms; "
            f"IAM calls per user {portal['calls']:.2f}"
        )
        print("\n" + lines[-1])
    return lines


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
@pytest.mark.timeout(1800)
def test_bench_provisioning_at_1_2_and_4_workers_beside_as_many_bare_loops(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    lines = _rounds(aws_server, aws_server, redis_url, tmp_path / "outbox", REQUESTS, "")
    print(f"\n[bench] {REQUESTS} requests per round, on {os.cpu_count()} CPUs\n" + "\n".join(lines))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
@pytest.mark.timeout(1800)
def test_bench_provisioning_with_iam_far_away(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    """`-k provisioning_with_iam_far_away`: the same rounds with each IAM call held
    FAR_LATENCY by a proxy (tests/throttle_proxy.py), as an IAM endpoint a network away
    answers. The moto server answers at once; AWS does not: this is the ratio where the
    portal's own work is beside the calls' round trips rather than in place of them. The
    proxy runs in this process, so its CPU is counted with moto's, for the loops and the
    portal alike."""
    with far_iam(aws_server) as far:
        lines = _rounds(
            aws_server, far.url, redis_url, tmp_path / "outbox", FAR_REQUESTS, "IAM far away "
        )
    print(
        f"\n[bench] IAM {FAR_LATENCY * 1000:.0f} ms away (a proxy holds each call), "
        f"{FAR_REQUESTS} requests per round, on {os.cpu_count()} CPUs\n" + "\n".join(lines)
    )
