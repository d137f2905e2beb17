from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.errors import NotAllowed, PeopleError
from accounts.models import EmploymentStatus
from accounts.services import person_update
from audit.models import AuditEvent
from tests.factories import UserFactory


def _edit(client: Client, person: Any, department: str, manager: str) -> Any:
    return client.post(
        reverse("person_edit", args=[person.pk]), {"department": department, "manager": manager}
    )


def test_hr_changes_manager_and_department_and_it_is_audited_with_before_and_after(
    hr_client: Client, hr_person: Any, employee: Any
) -> None:
    new_manager = UserFactory(email="nina@example.com", full_name="Nina New")
    response = _edit(hr_client, employee, "Finance", "NINA@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("person_detail", args=[employee.pk])
    employee.refresh_from_db()
    assert employee.department == "Finance"
    assert employee.manager == new_manager
    event = AuditEvent.objects.get(action="person.updated")
    assert event.actor_id == hr_person.pk
    assert event.target == f"person:{employee.pk}"
    assert event.ip == "127.0.0.1"
    assert event.data["before"] == {"department": "Engineering", "manager": "manager@example.com"}
    assert event.data["after"] == {"department": "Finance", "manager": "nina@example.com"}


def test_leaving_the_manager_empty_removes_the_manager(hr_client: Client, employee: Any) -> None:
    _edit(hr_client, employee, "Engineering", "")
    employee.refresh_from_db()
    assert employee.manager is None
    assert AuditEvent.objects.get(action="person.updated").data["after"] == {"manager": ""}


def test_saving_without_a_change_writes_no_audit_row(hr_client: Client, employee: Any) -> None:
    response = _edit(hr_client, employee, "Engineering", "manager@example.com")
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="person.updated").exists()


@pytest.mark.parametrize(
    ("manager_email", "message"),
    [
        ("employee@example.com", "A person cannot be their own manager."),
        ("nobody@example.com", "No one in the directory has the email nobody@example.com."),
        ("not-an-email", "is not someone in the directory: pick a person from the list"),
        ("leaver@example.com", "leaver@example.com has left the organisation"),
    ],
)
def test_edit_refuses_a_bad_manager_with_a_clear_message(
    hr_client: Client, employee: Any, manager_email: str, message: str
) -> None:
    UserFactory(
        email="leaver@example.com", is_active=False, employment_status=EmploymentStatus.LEFT
    )
    response = _edit(hr_client, employee, "Sales", manager_email)
    assert response.status_code == 200
    assert message in response.content.decode()
    employee.refresh_from_db()
    assert employee.department == "Engineering"
    assert employee.manager.email == "manager@example.com"
    assert not AuditEvent.objects.filter(action="person.updated").exists()


def test_edit_refuses_a_loop_in_the_management_chain(
    hr_client: Client, manager: Any, employee: Any
) -> None:
    intern = UserFactory(email="intern@example.com", manager=employee)
    # manager → employee → intern → manager would be a loop.
    response = _edit(hr_client, manager, "Engineering", intern.email)
    assert "would make a loop in the management chain" in response.content.decode()
    manager.refresh_from_db()
    assert manager.manager is None


def test_overlong_department_is_refused(hr_client: Client, employee: Any) -> None:
    response = _edit(hr_client, employee, "x" * 101, "")
    assert "Ensure this value has at most 100 characters" in response.content.decode()


def test_service_refuses_someone_who_is_not_hr(employee: Any, manager: Any) -> None:
    with pytest.raises(NotAllowed):
        person_update(actor=manager, person=employee, department="Sales", manager=None)


def test_service_rechecks_the_chain_when_the_form_is_stale(
    hr_person: Any, manager: Any, employee: Any
) -> None:
    # The form saw no loop, but someone made the manager report to the employee meanwhile.
    manager.manager = employee
    manager.save()
    stale_manager = type(manager).objects.get(pk=manager.pk)
    with pytest.raises(PeopleError, match="loop"):
        person_update(actor=hr_person, person=employee, department="Sales", manager=stale_manager)
