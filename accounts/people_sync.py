"""People pushed by the identity provider (SCIM): created and updated with the checks of
HR's import (the organisation's domains, a current manager, no loop in the chain), audited
under the same actions and payloads, with the identity provider as the actor.

The identity provider is not a person: `source` names it ("scim:okta") in the audit trail,
and no one is recorded as having placed the people it places, so it blocks no approver.
A leaver is not handled here: provisioning's SCIM endpoint offboards them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts import roles
from accounts.errors import PeopleError
from accounts.models import EmploymentStatus, User
from accounts.selectors import email_domain_problem, manager_problem
from accounts.services import (
    announce_org_chart_change,
    email_of,
    mark_placed,
    person_deactivate,
    record_person_created,
    record_person_updated,
)

VIA_SCIM = "scim"
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length or 254
FULL_NAME_MAX_LENGTH = User._meta.get_field("full_name").max_length or 200
DEPARTMENT_MAX_LENGTH = User._meta.get_field("department").max_length or 100


class PersonExists(PeopleError):
    """Someone in the directory already has this email."""


class PersonLeft(PeopleError):
    """The person has left; the identity provider does not bring people back."""


@dataclass(frozen=True)
class PersonFields:
    """What the directory keeps of an identity provider's user."""

    email: str
    full_name: str
    department: str
    manager_id: int | None


def _checked(fields: PersonFields, *, person: User | None) -> User | None:
    """The manager, once every field passes HR's rules; PeopleError with the first problem."""
    email = fields.email
    if not email:
        raise PeopleError("The user has no email address (userName or a work email).")
    if len(email) > EMAIL_MAX_LENGTH:
        raise PeopleError(f"The email is longer than {EMAIL_MAX_LENGTH} characters.")
    try:
        validate_email(email)
    except ValidationError:
        raise PeopleError(f"{email!r} is not a valid email address.") from None
    problem = email_domain_problem(email)
    if problem:
        raise PeopleError(problem)
    if len(fields.full_name) > FULL_NAME_MAX_LENGTH:
        raise PeopleError(f"The name is longer than {FULL_NAME_MAX_LENGTH} characters.")
    if len(fields.department) > DEPARTMENT_MAX_LENGTH:
        raise PeopleError(f"The department is longer than {DEPARTMENT_MAX_LENGTH} characters.")
    taken = User.objects.filter(email__iexact=email)
    if person is not None:
        taken = taken.exclude(pk=person.pk)
    if taken.exists():
        raise PersonExists(f"{email} is already in the directory.")
    if fields.manager_id is None:
        return None
    manager = User.objects.filter(pk=fields.manager_id).first()
    if manager is None:
        raise PeopleError(f"The manager {fields.manager_id} is not a person of this directory.")
    problem = (
        manager_problem(person=person, manager=manager)
        if person is not None
        else (None if manager.is_active else f"{manager.email} has left the organisation.")
    )
    if problem:
        raise PeopleError(problem)
    return manager


def person_create_from_idp(
    *, source: str, fields: PersonFields, active: bool = True, ip: str | None = None
) -> User:
    """A person the identity provider pushes: an employee like anyone HR imports, who signs
    in through the identity provider (no usable password). `active=False` records someone
    who has already left, with no way in."""
    with transaction.atomic():
        manager = _checked(fields, person=None)
        person = User(
            email=fields.email.lower(),
            full_name=fields.full_name,
            department=fields.department,
            manager=manager,
            employment_status=EmploymentStatus.ACTIVE,
        )
        mark_placed(person, actor=None)
        person.set_unusable_password()
        person.save()
        person.groups.add(Group.objects.get(name=roles.EMPLOYEES))
        record_person_created(
            actor=source, person=person, manager_email=email_of(manager), via=VIA_SCIM, ip=ip
        )
        if not active:
            person_deactivate(person=person, actor=source, ip=ip)
    return person


def person_update_from_idp(
    *, source: str, person: User, fields: PersonFields, ip: str | None = None
) -> bool:
    """The identity provider's new values for a person (a leaver is refused). Returns False
    when nothing the directory keeps changed. A new manager re-routes the person's undecided
    requests, as HR's edit would."""
    with transaction.atomic():
        person = (
            User.objects.select_for_update(of=("self",)).select_related("manager").get(pk=person.pk)
        )
        if not person.is_active or person.employment_status == EmploymentStatus.LEFT:
            raise PersonLeft(
                f"{person.email} has left the organisation; the portal does not bring leavers "
                "back through SCIM."
            )
        manager = _checked(fields, person=person)
        before = {
            "email": person.email,
            "full_name": person.full_name,
            "department": person.department,
            "manager": email_of(person.manager),
        }
        after = {
            "email": fields.email.lower(),
            "full_name": fields.full_name,
            "department": fields.department,
            "manager": email_of(manager),
        }
        if before == after:
            return False
        person.email = after["email"]
        person.full_name = fields.full_name
        person.department = fields.department
        person.manager = manager
        moved = before["manager"] != after["manager"]
        if moved:
            mark_placed(person, actor=None)
        person.save(
            update_fields=["email", "full_name", "department", "manager", "placed_by", "placed_at"]
        )
        record_person_updated(
            actor=source, person=person, before=before, after=after, via=VIA_SCIM, ip=ip
        )
        if moved:
            announce_org_chart_change([person], actor=None, ip=ip)
    return True
