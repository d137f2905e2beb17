"""Reachability of what the portal depends on, for /healthz and docker-compose."""

from __future__ import annotations

from django.db import connection

from provisioning import aws


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connection.vendor
    except Exception as error:  # any failure means "not healthy", reported as such
        return False, type(error).__name__


def check_broker() -> tuple[bool, str]:
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return True, str(conn.transport_cls or "ok")
    except Exception as error:  # any failure means "not healthy", reported as such
        return False, type(error).__name__


def check_aws() -> tuple[bool, str]:
    try:
        identity = aws.whoami(quick=True)
    except aws.AwsError as error:
        return False, error.code
    if identity.is_root:
        return False, "root credentials refused"
    # /healthz is public: say that AWS answered, not which account the portal runs in.
    return True, "reachable"


def health() -> tuple[bool, dict[str, dict[str, object]]]:
    results = {
        "database": check_database(),
        "broker": check_broker(),
        "aws": check_aws(),
    }
    report = {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()}
    return all(ok for ok, _ in results.values()), report
