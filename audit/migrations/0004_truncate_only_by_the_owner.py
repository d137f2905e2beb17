"""TRUNCATE of the audit table only by its owner, in a session that asks for it.

Until now any session could `SET portal.audit_maintenance = on` and then TRUNCATE. Now the
switch works only for the table's owner (who runs migrations, and the test suite's flush):
the runtime role, which can only INSERT and SELECT on the table (`manage.py
grant_runtime_role`), cannot use it, and UPDATE and DELETE stay refused for everyone."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('portal.audit_maintenance', true) = 'on'
       AND EXISTS (
           SELECT 1 FROM pg_tables
           WHERE schemaname = current_schema() AND tablename = TG_TABLE_NAME
             AND tableowner = session_user
       ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit trail is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""

BACKWARD = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('portal.audit_maintenance', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit trail is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_keyed_chain")]
    operations = [migrations.RunPython(forward, backward)]
