"""Test overrides. The database is DATABASE_URL if set, else Postgres on 127.0.0.1:5432 when
reachable, else SQLite; tests/conftest.py says which and enforces REQUIRE_SERVICES."""

from __future__ import annotations

import os
import socket


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


os.environ.setdefault("PORTAL_ENV", "test")
if not os.environ.get("DATABASE_URL"):
    if _reachable("127.0.0.1", 5432):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/portal"
        DATABASE_CHOICE = "Postgres on 127.0.0.1:5432 (reachable)"
    else:
        os.environ["DATABASE_URL"] = "sqlite:///:memory:"
        DATABASE_CHOICE = "SQLite in memory (no Postgres on 127.0.0.1:5432)"
else:
    DATABASE_CHOICE = "DATABASE_URL"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from portal.settings import *  # noqa: E402, F403
from portal.settings import DATABASES, REDIS_URL  # noqa: E402

DATABASE_CHOICE = f"{DATABASE_CHOICE}: {DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
# Rate limits and cached state must not leak between tests: a local cache per process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = REDIS_URL
# Eager in the test process; a real worker subprocess (tests/worker.py) sets PORTAL_TEST_WORKER.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("PORTAL_TEST_WORKER") != "1"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
# WhiteNoise warns on every request when STATIC_ROOT is missing; tests never collect static.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
# The AWS seams (provisioning/aws/seams.py): fault injection, and the strict IAM layer over
# moto (tests/strict_iam.py) for a worker subprocess that asks for it.
AWS_TEST_SEAMS = True
AWS_FAULT_INJECTION = os.environ.get("AWS_FAULT_INJECTION", "")
AWS_CLIENT_HOOK = "tests.strict_iam.install" if os.environ.get("PORTAL_STRICT_IAM") == "1" else ""
# A SIGKILLed worker's task is handed out again once its visibility timeout has passed, but
# kombu only looks every unacked_restore_interval x unacked_restore_throttle seconds (100 s by
# default): worker crash tests look every second.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
# A worker subprocess that lives in the future (guardrail tests: "90 days later"). The test
# process keeps the real time; so does the moto server it runs, which dated the keys.
if os.environ.get("PORTAL_TEST_TRAVEL_DAYS"):
    import datetime as _dt

    import time_machine

    time_machine.travel(
        _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=int(os.environ["PORTAL_TEST_TRAVEL_DAYS"])),
        tick=True,
    ).start()
# Benchmarks count each worker task's SQL statements (tests/sql_counter.py).
if os.environ.get("PORTAL_COUNT_SQL") == "1":
    from tests import sql_counter

    sql_counter.install()
