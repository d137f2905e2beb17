"""The portal's statements are prepared by Postgres on a connection that keeps running them
(`PORTAL_DB_SERVER_BINDING`, on by default): each page's joins are planned once per
connection, not once per request. Django turns psycopg's preparing off unless
`prepare_threshold` is set, so binding parameters on the server alone prepares nothing."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts import roles
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_required")]


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def _roles_statements() -> list[str]:
    return [statement for statement in _prepared() if "UNION ALL" in statement]


def test_a_statement_is_prepared_by_postgres_once_a_connection_has_run_it_five_times() -> None:
    person = UserFactory()
    for _ in range(5):
        roles.load_roles(person)
    assert _roles_statements() == [], "prepared before it had run five times"
    roles.load_roles(person)
    held = _roles_statements()
    assert len(held) == 1, f"the roles statement is not prepared on this connection: {held}"
    # Its parameters are Postgres's, not spliced into the text.
    assert "$1" in held[0]
    # And the prepared statement still answers right.
    assert roles.load_roles(person)._portal_is_manager is False  # type: ignore[attr-defined]
