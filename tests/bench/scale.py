"""What the scale benchmarks share: seeding many rows fast, a gunicorn serving the test
database, a signed-in session for it, percentiles and peak memory.

Audit rows are seeded with COPY, chained and MACed exactly as `audit_record` would chain
them (the MAC computed by `audit.services.compute_hash`), so `verify_audit` checks them for
real; a million rows take well under a minute."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import connection

from accounts.sessions import SessionStore
from audit.chain import GENESIS_HASH, newest_key_version
from audit.models import AuditEvent
from audit.services import CHAIN_FORMAT, compute_hash
from tests.worker import _database_url

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = (
    "request.submitted",
    "request.approved",
    "iam.user.created",
    "iam.login_profile.created",
    "credential.revealed",
    "grant.ended",
)
_COLUMNS = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "target",
    "data",
    "ip",
    "correlation_id",
    "prev_hash",
    "hash",
    "key_version",
    "subject_id",
    "chain_format",
)


def seed_audit_rows(count: int, people: list[tuple[int, str]], batch: int = 50_000) -> None:
    """Append `count` chained rows after the current head, acted by and on `people`
    ((id, email) pairs), a second apart, through COPY in batches."""
    import json

    head = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    previous = head or GENESIS_HASH
    version = newest_key_version()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=count)
    done = 0
    while done < count:
        rows = []
        for n in range(done, min(count, done + batch)):
            actor_id, actor_email = people[n % len(people)]
            subject_id, subject_email = people[(n * 7 + 3) % len(people)]
            # A plain namespace with the model's fields: compute_hash reads only those.
            event = SimpleNamespace(
                created_at=start + timedelta(seconds=n),
                actor_id=actor_id,
                actor_label=actor_email,
                action=ACTIONS[n % len(ACTIONS)],
                target=f"person:{subject_id}",
                data={"email": subject_email, "request": n},
                ip="10.0.0.1",
                correlation_id=f"bench-{n}",
                prev_hash=previous,
                key_version=version,
                subject_id=subject_id,
                chain_format=CHAIN_FORMAT,
            )
            event.hash = compute_hash(event)
            previous = event.hash
            rows.append(
                (
                    event.created_at,
                    event.actor_id,
                    event.actor_label,
                    event.action,
                    event.target,
                    json.dumps(event.data),
                    event.ip,
                    event.correlation_id,
                    event.prev_hash,
                    event.hash,
                    event.key_version,
                    event.subject_id,
                    event.chain_format,
                )
            )
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg 3's own cursor, for COPY
            statement = f"COPY audit_auditevent ({', '.join(_COLUMNS)}) FROM STDIN"
            with raw.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        done += len(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a child to the end: (seconds, peak RSS in MB from its own rusage, output)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert child.stdout is not None
    output = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise AssertionError(f"{command} exited {child.returncode}:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def child_env(moto_url: str, redis_url: str) -> dict[str, str]:
    """A child process's environment: test settings, this test's database, Redis, moto."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "AWS_ENDPOINT_URL": moto_url,
        "PYTHONUNBUFFERED": "1",
    }


def seed_sessions(count: int, *, first_user_id: int = 1_000_000) -> None:
    """`count` other people signed in (sessions of ids from `first_user_id`), as a portal of
    an organisation's size holds them: what ending a leaver's sessions must not walk."""
    from accounts.models import PortalSession

    expires = datetime.now(UTC) + timedelta(hours=8)
    store = SessionStore()
    PortalSession.objects.bulk_create(
        [
            PortalSession(
                session_key=f"bench{n:035d}",
                session_data=store.encode({SESSION_KEY: str(first_user_id + n)}),
                expire_date=expires,
                user_id=first_user_id + n,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )


def session_cookie(user: Any) -> str:
    """A signed-in session for `user`, as the browser would send it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    def __init__(self, base: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base = base
        self.process = process
        self.log = log

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes (the master's children)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids


@contextmanager
def gunicorn(
    env: dict[str, str],
    log: Path,
    workers: int = 3,
    threads: int = 1,
    config: str = "gunicorn.conf.py",
) -> Iterator[Served]:
    """gunicorn as docker-compose runs it (gunicorn.conf.py, sync workers) on a free port."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        config,
        "portal.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--access-logfile",
        "/dev/null",
        "--error-logfile",
        str(log),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=5):  # noqa: S310 (local)
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield Served(base, process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def seed_people_and_requests(people: int = 1_000, requests: int = 10_000) -> dict[str, Any]:
    """`people` people in teams of ten under their managers (one manager with sixty reports
    who each wait on them), `requests` requests spread over ten role-groups (most active with
    a grant, some rejected, cancelled or failed), an IAM user for everyone holding access.
    Returns the people the pages are seen as."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import User
    from provisioning.models import AccessRequest, Approval, Grant, IamAccount, RoleGroup

    password = make_password("portal-bench-pass")
    bench_manager = User.objects.create(email="bench-manager@example.com", password=password)
    managers = User.objects.bulk_create(
        User(email=f"bench-lead-{n}@example.com", full_name=f"Lead {n}", password=password)
        for n in range(people // 10)
    )
    staff = User.objects.bulk_create(
        User(
            email=f"bench-person-{n}@example.com",
            full_name=f"Person {n}",
            department=f"Dept {n % 12}",
            password=password,
            manager=bench_manager if n < 60 else managers[n % len(managers)],
        )
        for n in range(people - len(managers) - 1)
    )
    everyone = [bench_manager, *managers, *staff]
    employees = Group.objects.get(name=roles.EMPLOYEES)
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=person.pk, group_id=employees.pk) for person in everyone
    )
    groups = RoleGroup.objects.bulk_create(
        RoleGroup(name=f"Bench group {n}", iam_group_name=f"bench-group-{n}", synced_at=_now())
        for n in range(-(-requests // len(staff)))
    )
    accounts = {
        account.owner_id: account
        for account in IamAccount.objects.bulk_create(
            IamAccount(owner=person, user_name=f"bench.person.{person.pk}") for person in staff
        )
    }
    statuses = [AccessRequest.Status.ACTIVE] * 6 + [
        AccessRequest.Status.REJECTED,
        AccessRequest.Status.CANCELLED,
        AccessRequest.Status.REJECTED,
        AccessRequest.Status.CANCELLED,
    ]
    made = []
    for n in range(requests):
        person = staff[n % len(staff)]
        group_index = (n // len(staff)) % len(groups)
        status = statuses[(n * 3 + group_index) % len(statuses)]
        if group_index == 0 and person.manager_id == bench_manager.pk:
            status = AccessRequest.Status.PENDING
        elif n % 97 == 0:
            status = AccessRequest.Status.FAILED
        made.append(
            AccessRequest(
                requester=person,
                role_group=groups[group_index],
                access_type=AccessRequest.AccessType.BOTH,
                justification=f"Bench request {n} for the quarterly close.",
                status=status,
                first_approver_id=person.manager_id,
                iam_account=accounts[person.pk] if status == "active" else None,
                iam_user_name=accounts[person.pk].user_name,
                failure_reason="Throttling: Rate exceeded" if status == "failed" else "",
            )
        )
    made = AccessRequest.objects.bulk_create(made)
    Approval.objects.bulk_create(
        Approval(
            request=request,
            approver_id=request.first_approver_id,
            stage=Approval.Stage.MANAGER,
            decision=Approval.Decision.REJECTED
            if request.status == "rejected"
            else Approval.Decision.APPROVED,
        )
        for request in made
        if request.status in ("active", "rejected", "failed")
    )
    Grant.objects.bulk_create(
        Grant(iam_account=request.iam_account, role_group=request.role_group, request=request)
        for request in made
        if request.status == "active"
    )
    analyze()
    return {
        "manager": bench_manager,
        "employee": staff[61],
        "everyone": [(person.pk, person.email) for person in everyone],
    }


def analyze() -> None:
    """Fresh statistics, as autovacuum keeps them on a live database: a table seeded a moment
    ago is planned as if it were empty otherwise."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()
