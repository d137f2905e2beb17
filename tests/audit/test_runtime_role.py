"""The runtime database role (web and worker) may only INSERT and SELECT on the audit table:
connected as it, UPDATE, DELETE and TRUNCATE fail, whatever session setting it tries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

import audit

ROLE = "portal_runtime_test"


@pytest.fixture
def runtime_role(postgres_required: None, transactional_db: None) -> Iterator[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {ROLE}")
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN")
    call_command("grant_runtime_role", ROLE)
    settings = connection.settings_dict
    yield {
        "dbname": settings["NAME"],
        "user": ROLE,
        "host": settings.get("HOST") or "127.0.0.1",
        "port": settings.get("PORT") or 5432,
        "autocommit": True,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {ROLE}")
        cursor.execute(f"DROP ROLE {ROLE}")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'forged'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ],
)
def test_the_runtime_role_cannot_change_the_audit_trail(
    runtime_role: dict[str, Any], statement: str
) -> None:
    audit.record("test.kept")
    with psycopg.connect(**runtime_role) as runtime:
        runtime.execute("SET portal.audit_maintenance = on")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime.execute(statement)
    assert audit.last_event("test.kept") is not None


def test_the_runtime_role_writes_and_reads_the_trail(runtime_role: dict[str, Any]) -> None:
    with psycopg.connect(**runtime_role) as runtime:
        count = runtime.execute("SELECT count(*) FROM audit_auditevent").fetchone()
        assert count is not None
        runtime.execute(
            "INSERT INTO audit_auditevent (created_at, actor_label, action, target, data,"
            " correlation_id, prev_hash, hash, key_version)"
            " VALUES (now(), 'system', 'test.inserted', '', '{}', '', %s, %s, 'demo')",
            ["0" * 64, "f" * 64],
        )
    assert audit.last_event("test.inserted") is not None


def test_even_the_owner_is_refused_update_and_delete_by_the_trigger(
    transactional_db: None, postgres_required: None
) -> None:
    event = audit.record("test.kept")
    with connection.cursor() as cursor:
        for statement in (
            "UPDATE audit_auditevent SET action = 'x'",
            "DELETE FROM audit_auditevent",
        ):
            with pytest.raises(Exception, match="append-only"):
                cursor.execute(statement)
    assert audit.last_event("test.kept").pk == event.pk
