from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

import audit
from audit.models import AuditEvent
from audit.services import audit_verify


@pytest.mark.django_db
def test_recorded_events_chain_to_each_other(employee):
    first = audit.record("test.first", actor=employee, target="x:1", data={"n": 1}, ip="10.0.0.1")
    second = audit.record("test.second", data={"n": 2})
    assert second.prev_hash == first.hash
    assert second.actor_label == "system"
    assert audit_verify() is None


@pytest.mark.django_db
def test_audit_data_refuses_secrets():
    with pytest.raises(ValueError, match="secrets"):
        audit.record("test.secret", data={"password": "hunter2"})
    assert not AuditEvent.objects.filter(action="test.secret").exists()


@pytest.mark.django_db
def test_postgres_refuses_update_and_delete_of_audit_rows(postgres_required):
    event = audit.record("test.row")
    for statement in (
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL portal.audit_maintenance = 'off'")
        cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk, action="test.row").exists()


@pytest.mark.django_db
def test_verify_finds_a_tampered_row(postgres_required):
    audit.record("test.a")
    tampered = audit.record("test.b", data={"n": 1})
    audit.record("test.c")
    rows = list(AuditEvent.objects.order_by("id"))
    rows[1].data = {"n": 2}
    assert audit_verify(iter(rows)) == tampered
