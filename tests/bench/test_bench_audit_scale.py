"""Benchmark (`make bench`, not `make test`): the audit trail at a million rows.

`verify_audit` (run as `manage.py verify_audit`, its own process) and the CSV export (served
by gunicorn, one sync worker, downloaded in full by a client) at 100,000 rows and again at
1,000,000. Printed beside their anchors: verify's seconds against the 60 s goal, and each
process's peak RSS at a million rows against its peak at a hundred thousand (constant
memory: the ratio stays near 1, where reading the rows into memory would make it ~10)."""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from tests.bench.scale import (
    child_env,
    gunicorn,
    peak_rss_mb,
    run_measured,
    seed_audit_rows,
    session_cookie,
)
from tests.factories import UserFactory

SIZES = tuple(int(n) for n in os.environ.get("BENCH_AUDIT_SIZES", "100000,1000000").split(","))
VERIFY_GOAL_SECONDS = 60.0


def _auditor() -> Any:
    person = UserFactory(email="bench-auditor@example.com")
    person.user_permissions.add(
        Permission.objects.get(codename="view_audit", content_type__app_label="audit")
    )
    return person


def _export(env: dict[str, str], cookie: str, log: Path) -> tuple[float, float, float, float]:
    """(seconds, MB downloaded, worker peak RSS MB, that worker's peak RSS before exporting)."""
    with gunicorn(env, log, workers=1) as served:
        request = urllib.request.Request(  # noqa: S310 (local)
            f"{served.base}/audit/export.csv?target=nothing-matches", headers={"Cookie": cookie}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (warm-up)
            assert response.status == 200
        (worker,) = served.worker_pids()
        before = peak_rss_mb(worker)
        started = time.perf_counter()
        size = 0
        request = urllib.request.Request(  # noqa: S310 (local)
            f"{served.base}/audit/export.csv", headers={"Cookie": cookie}
        )
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
            while chunk := response.read(1 << 20):
                size += len(chunk)
        seconds = time.perf_counter() - started
        return seconds, size / 1e6, peak_rss_mb(worker), before


@pytest.mark.timeout(2400)
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_bench_audit_trail_at_a_million_rows(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    auditor = _auditor()
    people = [(auditor.pk, auditor.email)] + [
        (p.pk, p.email) for p in UserFactory.create_batch(200)
    ]
    cookie = session_cookie(auditor)
    env = child_env(aws_server, redis_url)
    results = []
    for size in SIZES:
        started = time.perf_counter()
        seed_audit_rows(size - AuditEvent.objects.count(), people)
        seeded = time.perf_counter() - started
        assert AuditEvent.objects.count() >= size
        verify_s, verify_rss, output = run_measured(
            [sys.executable, "manage.py", "verify_audit", "--skip-checks"], env
        )
        assert "audit trail intact" in output, output
        export = _export(env, cookie, tmp_path / f"gunicorn-{size}.log")
        results.append((size, seeded, verify_s, verify_rss, *export))

    print()
    print(
        "[bench] audit trail at scale (verify: manage.py verify_audit; export: gunicorn, 1 worker)"
    )
    print(
        f"{'rows':>9} | {'seed s':>6} | {'verify s':>8} | {'verify peak RSS':>15} | "
        f"{'export s':>8} | {'CSV MB':>7} | {'export worker peak RSS':>22}"
    )
    for size, seeded, verify_s, verify_rss, export_s, mb, rss, before in results:
        print(
            f"{size:>9,} | {seeded:>6.1f} | {verify_s:>8.1f} | {verify_rss:>12.0f} MB | "
            f"{export_s:>8.1f} | {mb:>7.0f} | {rss:>10.0f} MB (idle {before:.0f} MB)"
        )
    big = results[-1]
    print(
        f"[bench] verify_audit 1,000,000 rows: {big[2]:.1f} s (goal < {VERIFY_GOAL_SECONDS:.0f} s, "
        f"{big[2] / big[0] * 1e6:.1f} us/row); peak RSS {big[3]:.0f} MB vs {results[0][3]:.0f} MB "
        f"at 100,000 rows (x{big[3] / results[0][3]:.2f})"
    )
    print(
        f"[bench] CSV export 1,000,000 rows: {big[4]:.1f} s, {big[5]:.0f} MB streamed, "
        f"{big[0] / big[4]:,.0f} rows/s; worker peak RSS {big[6]:.0f} MB vs {results[0][6]:.0f} MB "
        f"at 100,000 rows (x{big[6] / results[0][6]:.2f})"
    )
