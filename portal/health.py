"""Reachability of what the portal depends on, for /healthz, /readyz and docker-compose.

/healthz answers from a snapshot kept in the cache, never from a live probe: a probe every few
seconds must not be an AWS call every few seconds. The snapshot is refreshed in the background
(by beat every HEALTH_REFRESH_SECONDS, and by the web process itself in a thread when a probe
finds it older than that), and AWS is asked at most once per HEALTH_AWS_SECONDS across all
processes. A snapshot older than three intervals is reported as stale: a refresher that died
must not leave the portal looking healthy forever. /readyz does the live probe of the
database and the broker (not AWS) for a load balancer deciding whether to send traffic here.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from provisioning import aws

logger = logging.getLogger(__name__)

SNAPSHOT_KEY = "health:snapshot"
# Held for HEALTH_AWS_SECONDS by whichever process asks AWS, so no other one asks sooner.
AWS_PROBE_KEY = "health:aws-probed"
STALE_AFTER_INTERVALS = 3

Check = dict[str, object]


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connection.vendor
    except Exception as error:  # any failure means "not healthy", reported as such
        return False, type(error).__name__


def check_broker() -> tuple[bool, str]:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return True, str(conn.transport_cls or "ok")
    except Exception as error:  # any failure means "not healthy", reported as such
        return False, type(error).__name__


def check_aws() -> tuple[bool, str]:
    try:
        identity = aws.whoami(quick=True)
    except aws.AwsError as error:
        return False, error.code
    if identity.is_root:
        return False, "root credentials refused"
    # /healthz is public: say that AWS answered, not which account the portal runs in.
    return True, "reachable"


def _check(result: tuple[bool, str], now: float) -> Check:
    ok, detail = result
    return {"ok": ok, "detail": detail, "checked_at": now}


class CacheUnreachable(Exception):
    pass


def _read_snapshot() -> dict[str, Any] | None:
    try:
        snapshot = cache.get(SNAPSHOT_KEY)
    except Exception as error:  # any failure of the cache's server
        raise CacheUnreachable(type(error).__name__) from error
    return snapshot if isinstance(snapshot, dict) else None


def health_refresh(*, aws_if_due: bool = True) -> dict[str, Any]:
    """Probe the database and the broker, and AWS when no process has asked it within
    HEALTH_AWS_SECONDS (else keep the last AWS result); store the snapshot and return it.
    `aws_if_due=False` leaves AWS to a later refresh unless there is no AWS result at all."""
    now = time.time()
    previous = _read_snapshot() or {}
    checks: dict[str, Check] = {
        "database": _check(check_database(), now),
        "broker": _check(check_broker(), now),
    }
    last_aws = previous.get("checks", {}).get("aws")
    try:
        due = aws_if_due and cache.add(AWS_PROBE_KEY, now, timeout=settings.HEALTH_AWS_SECONDS)
    except Exception as error:  # any failure of the cache's server
        raise CacheUnreachable(type(error).__name__) from error
    if due or last_aws is None:
        checks["aws"] = _check(check_aws(), time.time())
    else:
        checks["aws"] = last_aws
    snapshot = {"checked_at": now, "checks": checks}
    try:
        # Kept well past staleness, so a stale snapshot is reported stale rather than missing.
        cache.set(SNAPSHOT_KEY, snapshot, timeout=settings.HEALTH_AWS_SECONDS * 10)
    except Exception as error:  # any failure of the cache's server
        raise CacheUnreachable(type(error).__name__) from error
    return snapshot


_refreshing = threading.Lock()


def _refresh_in_background() -> None:
    try:
        health_refresh()
    except Exception:  # a failed refresh shows as a snapshot that goes stale
        logger.exception("health refresh failed")
    finally:
        connection.close()
        _refreshing.release()


def refresh_soon() -> threading.Thread | None:
    """Start one refresh in a thread of this process unless one is already running."""
    if not _refreshing.acquire(blocking=False):
        return None
    thread = threading.Thread(target=_refresh_in_background, name="health-refresh", daemon=True)
    thread.start()
    return thread


def _age(check: Check, now: float) -> float:
    checked_at = check.get("checked_at")
    return now - checked_at if isinstance(checked_at, int | float) else float("inf")


def health() -> tuple[bool, dict[str, dict[str, object]]]:
    """The last snapshot's verdict, with each part's result and age, at the cost of one cache
    read. Only when there is no snapshot at all (a cold cache) is it made here, once; when the
    snapshot is older than three intervals (nobody asked for a while), the database and the
    broker are probed here, never AWS: AWS's result then goes stale only when the background
    refresh that should renew it does not."""
    try:
        snapshot = _read_snapshot()
        if snapshot is None:
            snapshot = health_refresh()
        elif _age(snapshot, time.time()) > STALE_AFTER_INTERVALS * settings.HEALTH_REFRESH_SECONDS:
            snapshot = health_refresh(aws_if_due=False)
    except CacheUnreachable as error:
        # Without the cache every probe would become a live one, AWS included: say so instead.
        return False, {"cache": {"ok": False, "detail": str(error)}}
    now = time.time()
    if _age(snapshot, now) > settings.HEALTH_REFRESH_SECONDS:
        refresh_soon()
    report: dict[str, dict[str, object]] = {}
    for name, check in snapshot["checks"].items():
        interval = settings.HEALTH_AWS_SECONDS if name == "aws" else settings.HEALTH_REFRESH_SECONDS
        age = _age(check, now)
        part = {"ok": check["ok"], "detail": check["detail"], "age_seconds": round(age, 1)}
        if age > STALE_AFTER_INTERVALS * interval:
            part.update(ok=False, detail=f"stale: last checked {age:.0f}s ago")
        report[name] = part
    return all(part["ok"] for part in report.values()), report


def readiness() -> tuple[bool, dict[str, dict[str, object]]]:
    """A live probe of the database and the broker from this process (AWS is left to
    /healthz's snapshot: readiness is asked often and must not cost an AWS call)."""
    results = {"database": check_database(), "broker": check_broker()}
    report: dict[str, dict[str, object]] = {
        name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()
    }
    return all(ok for ok, _ in results.values()), report
