from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

import audit


@pytest.mark.django_db
def test_verify_audit_passes_an_intact_trail(capsys):
    audit.record("test.one")
    audit.record("test.two")
    call_command("verify_audit")
    assert "2 rows verified" in capsys.readouterr().out


@pytest.mark.django_db
def test_verify_audit_fails_at_a_row_changed_behind_the_portals_back():
    audit.record("test.one")
    changed = audit.record("test.two", data={"amount": 1})
    audit.record("test.three")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What an attacker with table-owner rights would do: lift the trigger, edit, restore.
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"amount": 2}', changed.pk]
        )
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    with pytest.raises(CommandError, match=f"broken at row {changed.pk}"):
        call_command("verify_audit")
