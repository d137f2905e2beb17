"""Each event's subject: the person it was done to (see `AuditEvent.subject_id`).

New rows carry it inside their MAC (chain format 2). Existing rows get it from their target,
outside their MAC (they stay format 1, so `verify_audit` checks them exactly as before): a
person's target names them; a request, an IAM user or account, a credential link's account,
an offboarding, a grant, a key rotation or a review item names the person it belongs to. It
runs as the table's owner, the one role the trigger lets change rows, with set-based UPDATEs
(one per kind of target), so a long trail is filled in a few statements."""

from django.db import migrations, models

# (target prefix, whether what follows it is an id, and SQL naming the person's id as
# `subject` for each `key`, the text after the prefix, from the CTE `t`).
_SUBJECTS = [
    ("person:", True, "SELECT t.id, p.id FROM t JOIN accounts_user p ON p.id = t.key"),
    (
        "access_request:",
        True,
        "SELECT t.id, r.requester_id FROM t JOIN provisioning_accessrequest r ON r.id = t.key",
    ),
    (
        "iam_account:",
        True,
        "SELECT t.id, a.owner_id FROM t JOIN provisioning_iamaccount a ON a.id = t.key",
    ),
    (
        "iam_user:",
        False,
        "SELECT t.id, a.owner_id FROM t JOIN provisioning_iamaccount a ON a.user_name = t.key",
    ),
    (
        "offboarding:",
        True,
        "SELECT t.id, o.person_id FROM t JOIN provisioning_offboarding o ON o.id = t.key",
    ),
    (
        "grant:",
        True,
        "SELECT t.id, a.owner_id FROM t JOIN provisioning_grant g ON g.id = t.key "
        "JOIN provisioning_iamaccount a ON a.id = g.iam_account_id",
    ),
    (
        "key_rotation:",
        True,
        "SELECT t.id, a.owner_id FROM t JOIN provisioning_keyrotation r ON r.id = t.key "
        "JOIN provisioning_iamaccount a ON a.id = r.iam_account_id",
    ),
    (
        "review_item:",
        True,
        "SELECT t.id, a.owner_id FROM t JOIN provisioning_reviewitem i ON i.id = t.key "
        "JOIN provisioning_grant g ON g.id = i.grant_id "
        "JOIN provisioning_iamaccount a ON a.id = g.iam_account_id",
    ),
]


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        # SQLite is the demo's database, made afresh by `make run`: nothing to fill in.
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM audit_auditevent)")
        if not cursor.fetchone()[0]:
            return
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        for prefix, numeric, subjects in _SUBJECTS:
            # The CTE is materialised so the cast only ever sees targets the pattern matched.
            key = f"substr(target, {len(prefix) + 1})"
            cursor.execute(
                "WITH t AS MATERIALIZED ("  # noqa: S608 (constants only)
                f"SELECT id, {key + '::bigint' if numeric else key} AS key "
                "FROM audit_auditevent WHERE subject_id IS NULL AND target ~ %s"
                f"), s (id, subject) AS ({subjects}) "
                "UPDATE audit_auditevent e SET subject_id = s.subject FROM s WHERE e.id = s.id",
                [f"^{prefix}" + ("[0-9]{1,18}$" if numeric else ".+$")],
            )
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_truncate_only_by_the_owner"),
        # The backfill reads the people, requests, accounts and offboardings it points at.
        ("accounts", "0001_initial"),
        ("provisioning", "0013_credential_usage_and_slow_provisioning"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="subject_id",
            field=models.BigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain_format",
            field=models.PositiveSmallIntegerField(db_default=1, default=1),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
