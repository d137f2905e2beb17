"""The trail's person filter: what the person did and what was done to them, by index."""

from __future__ import annotations

import importlib

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

import audit
from audit.models import AuditEvent
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.submit import access_request_submit
from tests.factories import (
    AccessRequestFactory,
    IamAccountFactory,
    OffboardingFactory,
    RoleGroupFactory,
    UserFactory,
)


def _shown(response) -> list[tuple[str, str]]:
    return [(row.event.action, row.event.target) for row in response.context["rows"]]


def _submit(person, role_group):
    [created] = access_request_submit(
        requester=person,
        role_group=role_group,
        access_type="console",
        justification="I build the data pipeline and need to deploy it.",
    )
    return created


@pytest.mark.django_db
def test_a_managers_decision_on_an_employees_request_shows_under_the_employee(
    client, auditor, employee, manager, django_capture_on_commit_callbacks
):
    developers = RoleGroupFactory(name="Developers (audit)")
    mine = _submit(employee, developers)
    colleague = UserFactory(email="colleague@example.com", manager=manager)
    theirs = _submit(colleague, developers)
    with django_capture_on_commit_callbacks():
        access_request_approve(access_request_id=mine.pk, actor=manager)
        access_request_approve(access_request_id=theirs.pk, actor=manager)

    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"person": employee.email})

    shown = _shown(response)
    assert ("request.approved", mine.audit_target) in shown  # done by the manager, to Erin
    assert ("request.submitted", mine.audit_target) in shown
    assert ("request.approved", theirs.audit_target) not in shown
    assert ("request.submitted", theirs.audit_target) not in shown


@pytest.mark.django_db
def test_the_person_filter_finds_aws_steps_iam_users_and_offboardings_of_the_person(
    client, auditor, employee, hr_person
):
    account = IamAccountFactory(owner=employee)
    other = IamAccountFactory(owner=UserFactory())
    offboarding = OffboardingFactory(person=employee, started_by=hr_person)
    audit.record("iam.user.created", target=f"iam_user:{account.user_name}", subject=employee)
    audit.record("iam.user.created", target=f"iam_user:{other.user_name}", subject=other.owner)
    audit.record(
        "offboarding.started",
        actor=hr_person,
        target=offboarding.audit_target,
        subject=employee.pk,
    )
    audit.record("person.updated", actor=hr_person, target=employee.audit_target)

    client.force_login(auditor)
    shown = _shown(client.get(reverse("audit_log"), {"person": "erin employee"}))

    assert ("iam.user.created", f"iam_user:{account.user_name}") in shown
    assert ("iam.user.created", f"iam_user:{other.user_name}") not in shown
    assert ("offboarding.started", offboarding.audit_target) in shown
    # A person's own target names them without the writer saying so.
    assert ("person.updated", employee.audit_target) in shown


@pytest.mark.django_db
def test_the_person_filter_takes_a_name_in_any_case_an_email_or_an_id(client, auditor, employee):
    audit.record("auth.signed_in", actor=employee, target=employee.audit_target)
    client.force_login(auditor)
    for person in ("ERIN", "Employee", "employee@example.com", str(employee.pk)):
        assert _shown(client.get(reverse("audit_log"), {"person": person})), person


@pytest.mark.django_db
def test_a_person_nobody_is_called_is_said_so_and_no_list_is_shown(client, auditor, employee):
    audit.record("auth.signed_in", actor=employee, target=employee.audit_target)
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"person": "nobody-by-that-name"})
    assert "No one in the portal matches" in response.content.decode()
    assert response.context["rows"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1, 60])
def test_the_person_filter_runs_in_constant_queries(
    client, auditor, employee, manager, size, django_assert_max_num_queries
):
    for number in range(size):
        request = AccessRequestFactory(requester=employee)
        audit.record(
            "request.approved", actor=manager, target=request.audit_target, subject=employee
        )
        audit.record("test.unrelated", actor=manager, data={"n": number})
    client.force_login(auditor)
    # 11 measured: the page (9, with the action names and the rows' people) and the person.
    with django_assert_max_num_queries(11):
        response = client.get(reverse("audit_log"), {"person": employee.email})
    assert len(response.context["rows"]) == min(size, 50)


@pytest.mark.django_db
def test_the_person_filter_is_answered_from_the_indexes(postgres_required, employee):
    from audit.selectors import audit_events

    with connection.cursor() as cursor:
        # On a near-empty table the planner would rather scan: ask what it does with rows.
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = audit_events(people=[employee.pk]).explain()
    assert "audit_auditevent_subject_id" in plan
    assert "audit_auditevent_actor_id" in plan


# --- The subject and the chain -----------------------------------------------------------------


def _owner_sql(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


@pytest.mark.django_db
def test_a_new_rows_subject_is_inside_its_mac(employee):
    audit.record("test.before")
    event = audit.record("request.approved", target="access_request:1", subject=employee)
    audit.record("test.after")
    call_command("verify_audit")
    # Moving a row out of the filter (or under another person) breaks the chain there.
    _owner_sql("UPDATE audit_auditevent SET subject_id = NULL WHERE id = %s", [event.pk])
    with pytest.raises(CommandError, match=f"broken at row {event.pk}"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_a_row_cannot_be_passed_off_as_the_old_format_to_drop_its_subject(employee):
    event = audit.record("request.approved", target="access_request:1", subject=employee)
    _owner_sql(
        "UPDATE audit_auditevent SET chain_format = 1, subject_id = NULL WHERE id = %s", [event.pk]
    )
    with pytest.raises(CommandError, match=f"broken at row {event.pk}"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_the_backfill_names_the_subject_of_old_rows_and_the_chain_still_verifies(
    employee, hr_person
):
    from django.apps import apps

    from audit.services import compute_hash

    account = IamAccountFactory(owner=employee)
    request = AccessRequestFactory(requester=employee)
    offboarding = OffboardingFactory(person=employee, started_by=hr_person)
    targets = [
        request.audit_target,
        f"iam_user:{account.user_name}",
        f"iam_account:{account.pk}",
        offboarding.audit_target,
        employee.audit_target,
        "catalogue",
    ]
    # Rows as the previous release wrote them: no subject, MACed in format 1.
    previous = "0" * 64
    for target in targets:
        event = audit.record("test.old", target=target)
        event.subject_id, event.chain_format, event.prev_hash = None, 1, previous
        event.hash = compute_hash(event)
        _owner_sql(
            "UPDATE audit_auditevent SET subject_id = NULL, chain_format = 1, prev_hash = %s, "
            "hash = %s WHERE id = %s",
            [event.prev_hash, event.hash, event.pk],
        )
        previous = event.hash
    call_command("verify_audit")

    migration = importlib.import_module("audit.migrations.0005_subject")
    with connection.schema_editor() as editor:
        migration.backfill(apps, editor)

    subjects = dict(AuditEvent.objects.values_list("target", "subject_id"))
    if connection.vendor == "postgresql":
        assert {target: subjects[target] for target in targets} == {
            **dict.fromkeys(targets[:-1], employee.pk),
            "catalogue": None,
        }
    call_command("verify_audit")
