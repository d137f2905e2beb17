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


# --- A keyed chain, and anchors outside the database ------------------------------------------


def _rewrite(row_id: int, data: str) -> None:
    """What the table's owner can do: lift the trigger and change a row."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE audit_auditevent SET data = %s WHERE id = %s", [data, row_id])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def _delete_from(row_id: int) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_auditevent WHERE id >= %s", [row_id])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


@pytest.mark.django_db
def test_the_owner_cannot_rewrite_a_row_and_recompute_the_chain_without_the_key():
    import hashlib

    from audit.chain import canonical
    from audit.models import AuditEvent
    from audit.services import canonical_fields

    for number in range(5):
        audit.record("test.step", data={"n": number})
    target = AuditEvent.objects.order_by("id")[2]
    _rewrite(target.pk, '{"n": 99}')
    # The attacker recomputes every later link with the only function they have: a hash.
    previous = AuditEvent.objects.filter(id__lt=target.pk).order_by("-id").first().hash
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        for event in AuditEvent.objects.filter(id__gte=target.pk).order_by("id"):
            event.prev_hash = previous
            forged = hashlib.sha256(canonical_fields(event)).hexdigest()
            cursor.execute(
                "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                [previous, forged, event.pk],
            )
            previous = forged
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    assert canonical  # the canonical form is public; the key is not
    with pytest.raises(CommandError, match=f"broken at row {target.pk}"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_rows_keyed_under_an_older_key_still_verify_after_rotation(settings, capsys):
    from audit.chain import chain_keys

    old = settings.AUDIT_CHAIN_KEYS[0]
    audit.record("test.before_rotation")
    new = "2:" + __import__("base64").b64encode(b"n" * 32).decode()
    settings.AUDIT_CHAIN_KEYS = [new, old]
    assert chain_keys()[0][0] == "2"
    audit.record("test.after_rotation")
    call_command("verify_audit")
    assert "2 rows verified" in capsys.readouterr().out
    # Drop the old key too early and its rows can no longer be vouched for.
    settings.AUDIT_CHAIN_KEYS = [new]
    with pytest.raises(CommandError, match="broken at row"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_a_deleted_tail_passes_the_chain_but_fails_against_the_anchors(tmp_path, settings, capsys):
    from audit.anchors import anchor_publish
    from audit.models import AuditEvent

    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors.log")
    for number in range(8):
        audit.record("test.step", data={"n": number})
    anchor_publish()
    newest = list(AuditEvent.objects.order_by("-id").values_list("id", flat=True)[:5])
    _delete_from(min(newest))

    call_command("verify_audit")  # the shortened chain is intact in itself...
    assert "a deleted tail would not show" in capsys.readouterr().out
    with pytest.raises(CommandError, match="is missing: the trail was cut back"):
        call_command("verify_audit", anchors=tmp_path / "anchors.log")


@pytest.mark.django_db
def test_the_anchors_match_an_intact_trail_and_catch_a_deleted_middle(tmp_path, settings, capsys):
    from audit.anchors import anchor_publish
    from audit.models import AuditEvent

    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors.log")
    audit.record("test.one")
    anchor_publish()
    audit.record("test.two")
    audit.record("test.three")
    anchor_publish()
    call_command("verify_audit", anchors=tmp_path / "anchors.log")
    assert "2 anchors matched" in capsys.readouterr().out
    lines = (tmp_path / "anchors.log").read_text().splitlines()
    assert all(line.startswith("AUDIT-ANCHOR {") for line in lines)

    middle = AuditEvent.objects.order_by("id")[1]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [middle.pk])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    with pytest.raises(CommandError):
        call_command("verify_audit", anchors=tmp_path / "anchors.log")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_verify_audit_split_among_processes_finds_the_same_first_broken_row(capsys):
    from audit.services import audit_verify

    rows = [audit.record(f"test.row{n}", data={"n": n}) for n in range(40)]
    call_command("verify_audit", "--workers", "3")
    assert "40 rows verified" in capsys.readouterr().out

    # Two rows changed, one in the middle range and one in the last: the first is reported,
    # whichever process finishes first.
    _rewrite(rows[30].pk, '{"n": -1}')
    _rewrite(rows[18].pk, '{"n": -1}')
    assert audit_verify(workers=1).pk == rows[18].pk
    assert audit_verify(workers=3).pk == rows[18].pk
    assert audit_verify(workers=40).pk == rows[18].pk
    with pytest.raises(CommandError, match=f"broken at row {rows[18].pk}"):
        call_command("verify_audit", "--workers", "2")
    # A link cut at a range's first row (the row before it changed its hash) is found too.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["0" * 64, rows[12].pk]
        )
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    assert audit_verify(workers=3).pk == rows[12].pk


def test_verify_audit_refuses_zero_workers():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("verify_audit", "--workers", "0")
