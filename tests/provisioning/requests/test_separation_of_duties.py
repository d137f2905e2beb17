"""No single person takes an identity from nothing to live AWS credentials.

Every way a person comes to be in the portal (HR's import, HR's edit of their manager,
self sign-up) and every way their request is decided (manager, security admin, second
approval) is walked here, and each ends with two different people behind the access."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts import roles
from accounts.errors import ImportRejected, PeopleError
from accounts.models import User
from accounts.people_import import people_import
from accounts.services import person_signed_up, person_update
from audit.models import AuditEvent
from provisioning.errors import DecisionNotAllowed
from provisioning.models import AccessRequest, RoleGroup
from provisioning.onboarding.run import access_request_provision
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.selectors import requests_awaiting_decision_by
from provisioning.requests.submit import access_request_submit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WHY = "Deploying the billing service to production."
Route = AccessRequest.Route
Status = AccessRequest.Status


def _import(actor: User, rows: str) -> None:
    header = "email,full_name,department,manager_email\n"
    people_import(actor=actor, content=(header + rows).encode(), source="people.csv")


def _request(person: User, group: str = "Analysts") -> AccessRequest:
    [access_request] = access_request_submit(
        requester=person,
        access_type="console",
        justification=WHY,
        role_group=RoleGroup.objects.get(name=group),
    )
    return access_request


@pytest.fixture(autouse=True)
def _groups_moto_can_attach() -> None:
    # moto loads no AWS managed policies: the catalogue's groups go without them here.
    RoleGroup.objects.update(managed_policy_arns=[])


def _decidable_by(person: User) -> list[int]:
    return list(requests_awaiting_decision_by(person).values_list("pk", flat=True))


# --- The reported attack ----------------------------------------------------------------------


def test_hr_cannot_import_an_outside_identity(hr_person: User) -> None:
    with pytest.raises(ImportRejected) as rejected:
        _import(hr_person, "ghost@attacker-mail.example,Ghost,Shadow,hr@example.com\n")
    [problem] = rejected.value.problems
    assert "ghost@attacker-mail.example is not an address of the organisation" in str(problem)
    assert not User.objects.filter(email="ghost@attacker-mail.example").exists()


def test_hr_who_imports_a_person_under_themselves_cannot_approve_their_request(
    hr_person: User, security_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    _import(hr_person, "ghost@example.com,Ghost,Shadow,hr@example.com\n")
    ghost = User.objects.get(email="ghost@example.com")
    assert ghost.placed_by == hr_person

    with django_capture_on_commit_callbacks(execute=True):
        access_request = _request(ghost)

    # Routed past HR to the security admins, and HR is told no.
    assert access_request.first_approver is None
    assert access_request.route == Route.PLACED_BY_MANAGER
    assert access_request.pk not in _decidable_by(hr_person)
    with pytest.raises(DecisionNotAllowed, match="placed Ghost in the org chart"):
        access_request_approve(access_request_id=access_request.pk, actor=hr_person)
    assert [m.to for m in mail.outbox] == [[security_admin.email]]
    # A second person decides.
    assert access_request.pk in _decidable_by(security_admin)
    access_request_approve(access_request_id=access_request.pk, actor=security_admin)
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED


def test_hr_who_makes_themselves_a_persons_manager_cannot_approve_their_pending_request(
    hr_person: User,
    manager: User,
    employee: User,
    security_admin: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    access_request = _request(employee)
    assert access_request.first_approver == manager

    with django_capture_on_commit_callbacks(execute=True):
        person_update(actor=hr_person, person=employee, department="Engineering", manager=hr_person)

    access_request.refresh_from_db()
    # Re-routed, never silently: an audit row and an email to whoever decides it now.
    assert access_request.first_approver is None
    assert access_request.route == Route.PLACED_BY_MANAGER
    rerouted = AuditEvent.objects.get(action="request.rerouted")
    assert rerouted.actor_id == hr_person.pk
    assert rerouted.data["from"] == manager.email and rerouted.data["to"] is None
    assert [m.to for m in mail.outbox if "now waits for you" in m.subject] == [
        [security_admin.email]
    ]
    for refused in (hr_person, manager):
        assert access_request.pk not in _decidable_by(refused)
        with pytest.raises(DecisionNotAllowed):
            access_request_approve(access_request_id=access_request.pk, actor=refused)
    access_request_approve(access_request_id=access_request.pk, actor=security_admin)


def test_a_new_manager_takes_over_a_pending_request_with_an_audit_row_and_an_email(
    hr_person: User, manager: User, employee: User, django_capture_on_commit_callbacks: Any
) -> None:
    access_request = _request(employee)
    new_manager = UserFactory(email="new.manager@example.com", full_name="Nia New")

    with django_capture_on_commit_callbacks(execute=True):
        person_update(
            actor=hr_person, person=employee, department="Engineering", manager=new_manager
        )

    access_request.refresh_from_db()
    assert access_request.first_approver == new_manager
    assert access_request.route == Route.MANAGER
    assert AuditEvent.objects.filter(action="request.rerouted").count() == 1
    [rerouted_mail] = [m for m in mail.outbox if "now waits for you" in m.subject]
    assert rerouted_mail.to == [new_manager.email]
    assert "It was waiting for Morgan Manager before." in rerouted_mail.body
    assert access_request.pk not in _decidable_by(manager)
    access_request_approve(access_request_id=access_request.pk, actor=new_manager)


def test_a_security_admin_who_placed_a_person_cannot_decide_for_them_either(
    manager: User, security_admin: User
) -> None:
    hr_and_security = UserFactory(
        email="both@example.com", full_name="Bo Both", roles=[roles.HR, roles.SECURITY_ADMINS]
    )
    _import(hr_and_security, "newcomer@example.com,Nia Newcomer,Ops,both@example.com\n")
    newcomer = User.objects.get(email="newcomer@example.com")
    access_request = _request(newcomer)

    assert access_request.pk not in _decidable_by(hr_and_security)
    with pytest.raises(DecisionNotAllowed, match="placed"):
        access_request_approve(access_request_id=access_request.pk, actor=hr_and_security)
    access_request_approve(access_request_id=access_request.pk, actor=security_admin)


def test_whoever_placed_a_person_cannot_give_the_second_approval(
    hr_person: User, manager: User, security_admin: User
) -> None:
    placer = UserFactory(
        email="placer@example.com", full_name="Pat Placer", roles=[roles.HR, roles.SECURITY_ADMINS]
    )
    _import(placer, "analyst@example.com,Ann Analyst,Finance,manager@example.com\n")
    analyst = User.objects.get(email="analyst@example.com")
    access_request = _request(analyst, group="Administrators")
    access_request_approve(access_request_id=access_request.pk, actor=manager)
    access_request.refresh_from_db()
    assert access_request.status == Status.AWAITING_SECOND_APPROVAL

    assert access_request.pk not in _decidable_by(placer)
    with pytest.raises(DecisionNotAllowed, match="placed"):
        access_request_approve(access_request_id=access_request.pk, actor=placer)
    access_request_approve(access_request_id=access_request.pk, actor=security_admin)


def test_after_the_cool_down_the_manager_who_placed_someone_decides_as_usual(
    hr_person: User, settings: Any
) -> None:
    settings.ORG_CHART_COOLDOWN_DAYS = 30
    _import(hr_person, "ghost@example.com,Ghost,Shadow,hr@example.com\n")
    ghost = User.objects.get(email="ghost@example.com")
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        access_request = _request(ghost)
        assert access_request.first_approver == hr_person
        access_request_approve(access_request_id=access_request.pk, actor=hr_person)


def test_edits_refuse_an_outside_manager(hr_person: User, employee: User) -> None:
    outsider = UserFactory(email="outsider@elsewhere.test")
    with pytest.raises(PeopleError, match="not an address of the organisation"):
        person_update(actor=hr_person, person=employee, department="x", manager=outsider)
    employee.refresh_from_db()
    assert employee.manager.email == "manager@example.com"


# --- Every path, two people --------------------------------------------------------------------


def _people_behind(person: User, access_request: AccessRequest) -> tuple[set[int], set[int]]:
    """Who put the person where they are, and who decided their request, from the trail."""
    placed = {
        event.actor_id
        for event in AuditEvent.objects.filter(target=person.audit_target)
        if event.action == "person.created"
        or (event.action == "person.updated" and "manager" in event.data["after"])
    }
    decided = set(
        AuditEvent.objects.filter(
            target=access_request.audit_target,
            action__in=["request.approved", "request.second_approval"],
        ).values_list("actor_id", flat=True)
    )
    return placed - {None}, decided


def _hr_imports_under_themselves(people: dict[str, User]) -> User:
    _import(people["hr"], "ghost@example.com,Ghost,Shadow,hr@example.com\n")
    return User.objects.get(email="ghost@example.com")


def _hr_imports_under_a_manager(people: dict[str, User]) -> User:
    _import(people["hr"], "recruit@example.com,Rae Recruit,Eng,manager@example.com\n")
    return User.objects.get(email="recruit@example.com")


def _hr_moves_someone_under_themselves(people: dict[str, User]) -> User:
    person_update(
        actor=people["hr"], person=people["employee"], department="Eng", manager=people["hr"]
    )
    return people["employee"]


def _someone_signs_up(people: dict[str, User]) -> User:
    walk_in = User.objects.create_user("walk-in@example.com", "a-long-passphrase-1")
    person_signed_up(person=walk_in)
    return walk_in


PATHS = {
    "HR imports a person under themselves": _hr_imports_under_themselves,
    "HR imports a person under a manager": _hr_imports_under_a_manager,
    "HR makes themselves someone's manager": _hr_moves_someone_under_themselves,
    "a person signs themselves up": _someone_signs_up,
}


@pytest.mark.parametrize("group", ["Analysts", "Administrators"])
@pytest.mark.parametrize("path", PATHS)
def test_every_path_from_no_identity_to_an_active_iam_user_takes_two_people(
    path: str, group: str, people: dict[str, User], aws: None, settings: Any
) -> None:
    settings.PORTAL_SELF_SIGNUP = True
    second_admin = UserFactory(email="second.security@example.com", roles=[roles.SECURITY_ADMINS])
    person = PATHS[path](people)
    access_request = _request(person, group=group)

    # Whoever may decide, in order, decides; nobody is allowed a stage they must not have.
    deciders = [people["manager"], people["hr"], people["security"], second_admin]
    for _ in range(2):
        access_request.refresh_from_db()
        if access_request.status not in AccessRequest.UNDECIDED_STATUSES:
            break
        allowed = [p for p in deciders if access_request.pk in _decidable_by(p)]
        assert allowed, f"{path}: nobody may decide request #{access_request.pk}"
        access_request_approve(access_request_id=access_request.pk, actor=allowed[0])
    access_request_provision(request_id=access_request.pk)
    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE

    placed, decided = _people_behind(person, access_request)
    assert not placed & decided, f"{path}: the same person placed and approved"
    assert person.pk not in decided
    assert len(placed | decided | {person.pk}) >= 2
    if group == "Administrators":
        assert len(decided) == 2, "a sensitive group takes two different approvers"
