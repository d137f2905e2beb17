"""For benchmarks: a worker started with PORTAL_COUNT_SQL=1 counts the SQL statements and
commits each task makes, and adds them to Redis after the task (one INCRBY per task), so the
benchmark can print statements per request. portal/test_settings.py calls `install()` only
when asked."""

from __future__ import annotations

import os
from typing import Any

from celery.signals import task_postrun
from django.db.backends.signals import connection_created

STATEMENTS = "bench:sql-statements"
COMMITS = "bench:sql-commits"
TASKS = "bench:tasks"

_counts = {"statements": 0, "commits": 0}


def _count_statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    _counts["statements"] += 1
    return execute(sql, params, many, context)


def _counting_commit(commit: Any) -> Any:
    def counted() -> Any:
        _counts["commits"] += 1
        return commit()

    return counted


def install() -> None:
    connection_created.connect(_install, weak=False)
    task_postrun.connect(_flush, weak=False)


def _install(sender: Any, connection: Any, **_: Any) -> None:
    if _count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statement)
        connection.commit = _counting_commit(connection.commit)


def _flush(**_: Any) -> None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    with client.pipeline() as pipe:
        pipe.incrby(STATEMENTS, _counts["statements"])
        pipe.incrby(COMMITS, _counts["commits"])
        pipe.incr(TASKS)
        pipe.execute()
    _counts["statements"] = _counts["commits"] = 0
