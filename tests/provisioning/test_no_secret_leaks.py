"""Across a whole run (approval, provisioning, email, reveal, a refused second reveal), the
console password, the secret access key and the link token appear in no log line (every logger
at DEBUG, botocore's included), no task argument, no email, no audit row and no database
column in clear."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from celery.signals import task_prerun
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.models import AccessRequest
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.submit import access_request_submit
from tests.factories import RoleGroupFactory
from tests.provisioning.strict_onboarding import use_strict_onboarding

pytestmark = pytest.mark.django_db


def _database_values() -> list[tuple[str, Any]]:
    """Every value of every row of every table, as (table, value)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                found.extend((table, value) for value in row)
    return found


def _holds(value: Any, secret: str) -> bool:
    if isinstance(value, memoryview | bytes | bytearray):
        raw = bytes(value)
        return secret.encode() in raw or secret.encode().hex() in raw.hex()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return isinstance(value, str) and secret in value


def _leaks(secret: str, places: dict[str, list[Any]]) -> list[str]:
    return [
        f"{where}: {str(value)[:80]!r}"
        for where, values in places.items()
        for value in values
        if _holds(value, secret)
    ]


@pytest.mark.usefixtures("aws")
def test_no_secret_appears_in_logs_task_arguments_emails_audit_or_database(
    settings: Any,
    employee: Any,
    manager: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    strict = use_strict_onboarding(settings)
    for name in ("", "botocore", "urllib3", "celery", "django", "provisioning", "moto"):
        caplog.set_level(logging.DEBUG, logger=name)
    secrets: dict[str, str] = {}

    def keep_secret(parsed: Any = None, **_: Any) -> None:
        secrets["secret access key"] = parsed["AccessKey"]["SecretAccessKey"]

    gateway.client().meta.events.register("after-call.iam.CreateAccessKey", keep_secret)
    task_arguments: list[Any] = []

    def keep_arguments(args: Any = None, kwargs: Any = None, **_: Any) -> None:
        task_arguments.extend([args, kwargs])

    task_prerun.connect(keep_arguments, weak=False)
    try:
        (access_request,) = access_request_submit(
            requester=employee,
            access_type=AccessRequest.AccessType.BOTH,
            justification="Needs the analytics console and an API key for the ETL jobs.",
            role_group=RoleGroupFactory(managed_policy_arns=[]),
        )
        with django_capture_on_commit_callbacks(execute=True):
            access_request_approve(access_request_id=access_request.pk, actor=manager)
    finally:
        task_prerun.disconnect(keep_arguments)
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.ACTIVE
    (create_login,) = strict.sent("CreateLoginProfile")
    secrets["password"] = create_login["Password"]
    (message,) = [m for m in mail.outbox if "/credentials/" in m.body]
    secrets["token"] = message.body.split("/credentials/", 1)[1].split("/", 1)[0]
    sealed_database = _database_values()

    recipient = Client()
    recipient.force_login(employee)
    url = reverse("credential_link", args=[secrets["token"]])
    assert recipient.get(url).status_code == 200
    revealed = recipient.post(url)
    assert secrets["password"] in revealed.content.decode().replace("&amp;", "&")
    assert recipient.post(url).status_code == 410

    assert [list(task_arguments[0]), task_arguments[1]] == [[access_request.pk], {}]
    assert len(secrets) == 3 and all(len(value) >= 20 for value in secrets.values())
    places = {
        "log": [record.getMessage() for record in caplog.records] + [caplog.text],
        "task argument": task_arguments,
        "email": [f"{m.subject}\n{m.body}" for m in mail.outbox],
        "audit": [e.data for e in AuditEvent.objects.all()]
        + [e.target for e in AuditEvent.objects.all()],
        "database before reveal": [value for _, value in sealed_database],
        "database after reveal": [value for _, value in _database_values()],
    }
    assert any("botocore" in record.name for record in caplog.records), "DEBUG was not on"
    for what in ("password", "secret access key"):
        assert _leaks(secrets[what], places) == [], what
    token_places = {k: v for k, v in places.items() if k != "email"}
    assert _leaks(secrets["token"], token_places) == [], "token"


@pytest.mark.usefixtures("aws")
def test_no_mfa_seed_or_rotated_key_appears_in_logs_task_arguments_emails_audit_or_database(
    settings: Any,
    employee: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    import re

    from tests.factories import AccessKeyRecordFactory, IamAccountFactory
    from tests.guardrails_strict import consecutive_codes
    from tests.strict_iam import use_strict_iam

    use_strict_iam(settings)
    for name in ("", "botocore", "urllib3", "celery", "django", "provisioning", "moto"):
        caplog.set_level(logging.DEBUG, logger=name)
    gateway.call("CreateUser", UserName="employee")
    account = IamAccountFactory(owner=employee, user_name="employee")
    old_key, _ = gateway.create_access_key("employee")
    AccessKeyRecordFactory(iam_account=account, access_key_id=old_key)
    secrets: dict[str, str] = {}

    def keep_secret(parsed: Any = None, **_: Any) -> None:
        secrets["rotated secret access key"] = parsed["AccessKey"]["SecretAccessKey"]

    gateway.client().meta.events.register("after-call.iam.CreateAccessKey", keep_secret)
    task_arguments: list[Any] = []

    def keep_arguments(args: Any = None, kwargs: Any = None, **_: Any) -> None:
        task_arguments.extend([args, kwargs])

    person = Client()
    person.force_login(employee)
    mfa_url = reverse("guardrails_mfa", args=[account.pk])
    page = person.post(mfa_url, {"action": "start"}, follow=True).content.decode()
    secrets["MFA seed"] = re.search(r'id="mfa-seed">([A-Z2-7]+)<', page).group(1)
    sealed_database = _database_values()
    first, second = consecutive_codes(secrets["MFA seed"])
    person.post(mfa_url, {"action": "enable", "code_1": first, "code_2": second})
    task_prerun.connect(keep_arguments, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            person.post(reverse("guardrails_rotate_key", args=[account.pk]))
    finally:
        task_prerun.disconnect(keep_arguments)
    sealed_database += _database_values()
    (message,) = [m for m in mail.outbox if "/credentials/" in m.body]
    path = "/access/credentials/" + message.body.split("/credentials/", 1)[1].split("/", 1)[0] + "/"
    revealed = person.post(path).content.decode()
    assert secrets["rotated secret access key"] in revealed.replace("&amp;", "&")

    assert len(secrets) == 2 and all(len(value) >= 20 for value in secrets.values())
    assert task_arguments and all(
        isinstance(arg, int) for args in task_arguments[::2] for arg in args
    )
    places = {
        "log": [record.getMessage() for record in caplog.records] + [caplog.text],
        "task argument": task_arguments,
        "email": [f"{m.subject}\n{m.body}" for m in mail.outbox],
        "audit": [e.data for e in AuditEvent.objects.all()]
        + [e.target for e in AuditEvent.objects.all()],
        "database while sealed": [value for _, value in sealed_database],
        "database after": [value for _, value in _database_values()],
    }
    assert any("botocore" in record.name for record in caplog.records), "DEBUG was not on"
    for what, secret in secrets.items():
        assert _leaks(secret, places) == [], what
