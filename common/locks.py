"""Named Postgres advisory locks, instead of magic numbers scattered through the services.

Every key lives here, so two features can never pick the same one by accident. SQLite (the
demo) has no advisory locks: there the functions do nothing, which is safe because the demo
runs one worker process and SQLite serialises writers itself."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# The audit chain's lock (audit/services.py) is 7_142_001: the audit app imports nothing of
# ours, so it keeps its key itself; tests/common/test_locks.py checks no key here repeats it.
AUDIT_CHAIN_KEY = 7_142_001


class LockKey(enum.IntEnum):
    # Serialises the choice of new IAM user names, so two people are never given the same one.
    IAM_USER_NAMING = 7_142_101
    # With an offboarding's id: one worker at a time tears an offboarding down.
    OFFBOARDING_TEARDOWN = 7_142_004
    # With a grant's id: one worker at a time removes a grant that is ending.
    GRANT_ENDING = 7_142_005


def xact_lock(key: LockKey) -> None:
    """Wait for the lock, held until the current transaction ends."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(key)])


@contextmanager
def session_try_lock(key: LockKey, object_id: int) -> Iterator[bool]:
    """Try the lock for one object, for as long as the block runs; yields whether it is held.

    Session-level: it needs no lease to tune, and Postgres releases it the moment the holder's
    connection dies, so a SIGKILLed worker's redelivered task can take over at once."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [int(key), object_id])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [int(key), object_id])
