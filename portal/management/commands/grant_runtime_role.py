"""`manage.py grant_runtime_role ROLE`: give the web and worker's database role what they need,
and on the audit trail no more than INSERT and SELECT.

Run it as the database owner (the role migrations run as, e.g. with
DATABASE_URL=$MIGRATION_DATABASE_URL), after every migrate: new tables need their grants.
The runtime role then cannot UPDATE, DELETE or TRUNCATE the audit table, whatever it sets;
the owner keeps those rights, which is why the chain is keyed and anchored as well."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from audit.models import AuditEvent


class Command(BaseCommand):
    help = "Grant a runtime database role its rights (INSERT and SELECT only on the audit trail)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the runtime role, e.g. portal")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("grant_runtime_role is for PostgreSQL")
        role = connection.ops.quote_name(options["role"])
        audit_table = connection.ops.quote_name(AuditEvent._meta.db_table)
        statements = [
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
            f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit_table} FROM {role}",
            f"GRANT SELECT, INSERT ON {audit_table} TO {role}",
        ]
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            f"{options['role']}: read and write on the portal's tables; "
            f"INSERT and SELECT only on {AuditEvent._meta.db_table}."
        )
