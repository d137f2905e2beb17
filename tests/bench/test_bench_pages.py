"""Benchmark (`make bench`, not `make test`): the pages at scale.

1,000 people, 10,000 requests and 100,000 audit rows; gunicorn with 3 sync workers
(docker-compose's shape, test settings) on Postgres. Each page is asked for as the person
who would use it, by 1 client and by 8 at once, and its p50/p95 printed beside the trivial
view's from the same run (the sign-in page, anonymous: a template and no query). Goal: every
page's p95 at most 3x the trivial view's. Then 100 clients ask for all the pages at once for
30 s: the error count (goal 0), throughput and p95.

`BENCH_PAGES_SAMPLES` (default 40) sets the requests per page and client count."""

from __future__ import annotations

import http.client
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from accounts import roles
from common.stack import run_with_room
from tests.bench.scale import (
    child_env,
    gunicorn,
    percentile,
    seed_audit_rows,
    seed_people_and_requests,
    session_cookie,
)
from tests.factories import UserFactory

SAMPLES = int(os.environ.get("BENCH_PAGES_SAMPLES", "40"))
GOAL_RATIO = 3.0
TRIVIAL = "sign-in page (trivial)"


def _getter(base: str, failures: list[str]) -> Callable[[str, str], tuple[int, float]]:
    parts = urlsplit(base)

    def get(path: str, cookie: str) -> tuple[int, float]:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = connection.getresponse()
            body = response.read()
            status = response.status
            if status != 200 and len(failures) < 5:
                failures.append(f"{path} {status} {body[:300]!r}")
        except OSError:
            status = 0
        finally:
            connection.close()
        return status, time.perf_counter() - started

    return get


def _run(get: Callable[..., tuple[int, float]], path: str, cookie: str, clients: int) -> dict:
    """`SAMPLES` requests per client, `clients` at once: latencies, errors, requests/s."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(SAMPLES):
            status, seconds = get(path, cookie)
            with lock:
                latencies.append(seconds)
                if status != 200:
                    errors.append(status)

    for _ in range(3):
        get(path, cookie)  # warm each worker's caches (templates, connections)
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "p50": statistics.median(latencies) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "rps": len(latencies) / elapsed,
        "errors": errors,
    }


def _soak(get: Callable[..., tuple[int, float]], pages: dict, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    targets = list(pages.values())

    def client(offset: int) -> None:
        n = offset
        while time.monotonic() < deadline:
            path, cookie = targets[n % len(targets)]
            status, took = get(path, cookie)
            n += 1
            with lock:
                latencies.append(took)
                if status != 200:
                    errors.append(status)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "errors": errors,
    }


def _seed() -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
    seeded = seed_people_and_requests()
    security = UserFactory(email="bench-security@example.com", roles=[roles.SECURITY_ADMINS])
    hr = UserFactory(email="bench-hr@example.com", roles=[roles.HR])
    auditor = UserFactory(email="bench-auditor@example.com", roles=[roles.AUDITORS])
    seed_audit_rows(100_000, seeded["everyone"])
    employee, manager = seeded["employee"], seeded["manager"]
    cookies = {
        who: session_cookie(person)
        for who, person in {
            "employee": employee,
            "manager": manager,
            "security": security,
            "hr": hr,
            "auditor": auditor,
        }.items()
    }
    pages: dict[str, tuple[str, str]] = {
        TRIVIAL: ("/accounts/login/", ""),
        "/healthz (snapshot)": ("/healthz", ""),
        "home (manager)": ("/", cookies["manager"]),
        "my access": ("/access/", cookies["employee"]),
        "approvals (60 pending, 25 a page)": ("/access/approvals/", cookies["manager"]),
        "people (HR)": ("/people/", cookies["hr"]),
        "person's access (HR)": (f"/access/people/{employee.pk}/", cookies["hr"]),
        "operations": ("/access/operations/", cookies["security"]),
        "audit first page": ("/audit/", cookies["auditor"]),
        "audit person=<email>": (f"/audit/?person={employee.email}", cookies["auditor"]),
        "audit person=<id>": (f"/audit/?person={employee.pk}", cookies["auditor"]),
    }
    return pages, seeded


@pytest.mark.timeout(1800)
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
@pytest.mark.skipif(not os.environ.get("BENCH_PAGES_PROFILE"), reason="BENCH_PAGES_PROFILE unset")
def test_profile_pages_at_scale(
    aws_server: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a page's time goes (`BENCH_PAGES_PROFILE="approvals,my access"`): queries, and
    cProfile's top functions over 10 renders in this process, each request with room on the
    frame stack as gunicorn's workers run (common/stack.py)."""
    import cProfile
    import pstats

    from django.db import connection
    from django.template.base import Template
    from django.test import Client

    pages, _ = _seed()
    wanted = os.environ["BENCH_PAGES_PROFILE"].split(",")
    # As served: without the test runner's template instrumentation (a signal and a copy of
    # every context per template rendered).
    from django.test.utils import _TestState

    monkeypatch.setattr(Template, "_render", _TestState.saved_data.template_render)
    for name, (path, cookie) in pages.items():
        if not any(word in name or word == "*" for word in wanted):
            continue
        client = Client()
        if cookie:
            key, _, value = cookie.partition("=")
            client.cookies[key] = value
        assert run_with_room(client.get, path).status_code == 200
        queries: list[tuple[float, str]] = []

        def timed(
            execute: Any, sql: str, params: Any, many: bool, context: Any, log: list = queries
        ) -> Any:
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                log.append((time.perf_counter() - began, sql))

        with connection.execute_wrapper(timed):
            run_with_room(client.get, path)
        plain = []
        for _ in range(20):
            began = time.perf_counter()
            run_with_room(client.get, path)
            plain.append((time.perf_counter() - began) * 1000)
        print(f"\n=== {name}: median {statistics.median(plain):.1f} ms unprofiled in-process")
        if os.environ.get("BENCH_PAGES_SORT") == "none":
            continue
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for _ in range(10):
            run_with_room(client.get, path)
        profile.disable()
        took = (time.perf_counter() - started) * 100
        print(f"\n=== {name}: {len(queries)} queries, {took:.1f} ms per render in-process")
        for seconds, sql in queries:
            print(f"  {seconds * 1000:6.1f} ms {sql[:300]}")
        pstats.Stats(profile).sort_stats(os.environ.get("BENCH_PAGES_SORT", "tottime")).print_stats(
            int(os.environ.get("BENCH_PAGES_LINES", "25"))
        )


@pytest.mark.timeout(1800)
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_bench_pages_at_scale(aws_server: str, redis_url: str, tmp_path: Path) -> None:
    pages, _ = _seed()
    env = {**child_env(aws_server, redis_url), "HEALTHZ_TOKEN": "bench-probe"}
    with gunicorn(env, tmp_path / "gunicorn.log", workers=3) as served:
        failures: list[str] = []
        get = _getter(served.base, failures)
        for name, (path, cookie) in pages.items():
            status, _ = get(path, cookie)
            assert status == 200, f"{name}: {path} answered {status}"
        table = {
            clients: {
                name: _run(get, path, cookie, clients) for name, (path, cookie) in pages.items()
            }
            for clients in (1, 8)
        }
        soak = _soak(get, pages, clients=100, seconds=30)
        detail = {"Authorization": "Bearer bench-probe"}
        parts = urlsplit(served.base)
        probe = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        probe.request("GET", "/healthz", headers=detail)
        health_after = probe.getresponse().read().decode()
        probe.close()

    print()
    print(
        "[bench] pages at 1,000 people / 10,000 requests / 100,000 audit rows "
        f"(gunicorn 3 sync workers, {SAMPLES} requests per client)"
    )
    header = f"{'page':<26}"
    for clients in (1, 8):
        header += f" | {clients} client(s): p50 / p95 ms  x trivial p95   req/s"
    print(header)
    worst = {}
    for name in pages:
        line = f"{name:<26}"
        for clients in (1, 8):
            row, anchor = table[clients][name], table[clients][TRIVIAL]
            ratio = row["p95"] / anchor["p95"]
            worst[clients] = max(worst.get(clients, 0.0), ratio)
            flag = "" if ratio <= GOAL_RATIO else " !"
            errors = f" errors {len(row['errors'])}" if row["errors"] else ""
            line += (
                f" | {row['p50']:>12.1f} / {row['p95']:>6.1f}  x{ratio:>5.2f}{flag:<2} "
                f"{row['rps']:>7.1f}{errors}"
            )
        print(line)
    for clients in (1, 8):
        print(
            f"[bench] {clients} client(s): worst page p95 = x{worst[clients]:.2f} the trivial "
            f"view's ({table[clients][TRIVIAL]['p95']:.1f} ms); goal <= x{GOAL_RATIO:.0f}"
        )
    for failure in failures:
        print(f"[bench] failed: {failure}")
    print(f"[bench] /healthz with the probe token after the soak: {health_after}")
    print(
        f"[bench] 100 clients for 30 s over all {len(pages)} pages: {soak['requests']} requests, "
        f"{soak['rps']:.1f} req/s, p50 {soak['p50']:.0f} ms, p95 {soak['p95']:.0f} ms, "
        f"errors {len(soak['errors'])} (goal 0) {sorted(set(soak['errors'])) or ''}"
    )
