"""Changes to people: HR's edits, self sign-up, and a leaver's deactivation. Each writes its
audit rows in the transaction that changes the people; HR's CSV import is in
`people_import.py`. Each event has one audit action and one payload, built here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

import audit
from accounts import roles
from accounts.errors import PeopleError
from accounts.events import org_chart_changed
from accounts.invitations import invitations_send
from accounts.models import (
    ApprovalEmails,
    EmploymentStatus,
    PortalSession,
    PortalSessionStore,
    User,
)
from accounts.roles import require_people_manager
from accounts.selectors import email_domain_problem, manager_problem

# How a change reached the directory, as the audit trail says it.
VIA_FORM = "form"
VIA_IMPORT = "import"
VIA_SIGN_UP = "sign-up"
VIA_OFFBOARDING = "offboarding"


def email_of(person: User | None) -> str:
    return person.email if person is not None else ""


def mark_placed(person: User, *, actor: User | None, now: datetime | None = None) -> None:
    """Record who placed the person in the org chart, and when (not saved here): for
    ORG_CHART_COOLDOWN_DAYS that person may not approve their requests."""
    person.placed_by = actor
    person.placed_at = now or timezone.now()


def announce_org_chart_change(
    people: list[User], *, actor: User | None, ip: str | None = None
) -> None:
    """Tell the other apps, in the caller's transaction, that these people have a new
    manager (provisioning re-routes their undecided requests)."""
    if people:
        org_chart_changed.send(sender=User, people=people, actor=actor, ip=ip)


# --- The audit rows of people ---------------------------------------------------------------


def record_person_created(
    *, actor: User | str | None, person: User, manager_email: str, via: str, ip: str | None
) -> None:
    audit.record(
        "person.created",
        actor=actor,
        target=person.audit_target,
        data={
            "email": person.email,
            "full_name": person.full_name,
            "department": person.department,
            "manager": manager_email,
            "via": via,
        },
        ip=ip,
    )


def record_person_updated(
    *,
    actor: User | str | None,
    person: User,
    before: dict[str, Any],
    after: dict[str, Any],
    via: str,
    reason: str = "",
    offboarding_id: int | None = None,
    ip: str | None,
) -> None:
    """`person.updated` with the changed fields only, before and after."""
    changed = [name for name in after if before.get(name) != after[name]]
    audit.record(
        "person.updated",
        actor=actor,
        target=person.audit_target,
        data={
            "email": person.email,
            "before": {name: before.get(name) for name in changed},
            "after": {name: after[name] for name in changed},
            "via": via,
            "reason": reason or None,
            "offboarding": offboarding_id,
        },
        ip=ip,
    )


# --- Editing one person ----------------------------------------------------------------------


def person_update(
    *,
    actor: User,
    person: User,
    department: str,
    manager: User | None,
    ip: str | None = None,
) -> bool:
    """Change a person's department and manager. Returns False when nothing changed.

    Steps: check the actor is HR; lock the person; re-check the manager against the current
    chain (the form checked a moment ago, but another edit may have landed since); save;
    write `person.updated` with the changed fields before and after."""
    require_people_manager(actor)
    with transaction.atomic():
        person = (
            User.objects.select_for_update(of=("self",)).select_related("manager").get(pk=person.pk)
        )
        problem = manager_problem(person=person, manager=manager) or next(
            filter(None, (email_domain_problem(p.email) for p in (person, manager) if p)), None
        )
        if problem:
            raise PeopleError(problem)
        before = {"department": person.department, "manager": email_of(person.manager)}
        after = {"department": department, "manager": email_of(manager)}
        if before == after:
            return False
        manager_changed = before["manager"] != after["manager"]
        person.department = department
        person.manager = manager
        fields = ["department", "manager"]
        if manager_changed:
            mark_placed(person, actor=actor)
            fields += ["placed_by", "placed_at"]
        person.save(update_fields=fields)
        record_person_updated(
            actor=actor, person=person, before=before, after=after, via=VIA_FORM, ip=ip
        )
        if manager_changed:
            announce_org_chart_change([person], actor=actor, ip=ip)
    return True


# --- HR adds one person ----------------------------------------------------------------------


def person_create(
    *,
    actor: User,
    email: str,
    full_name: str,
    department: str,
    manager: User | None,
    ip: str | None = None,
) -> User:
    """HR adds one person, as a one-row import would: an employee with an unusable password,
    placed by HR (who then may not approve for them for a while), and invited.

    Steps: check the actor is HR; check the email (organisation's domain, not taken) and the
    manager; create; write `person.created`; invite them (emailed on commit)."""
    require_people_manager(actor)
    email = email.strip().lower()
    problem = email_domain_problem(email)
    if problem:
        raise PeopleError(problem)
    if manager is not None and manager_problem(person=User(email=email), manager=manager):
        raise PeopleError(manager_problem(person=User(email=email), manager=manager) or "")
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise PeopleError(f"{email} is already in the directory.")
        person = User(email=email, full_name=full_name.strip(), department=department.strip())
        person.manager = manager
        mark_placed(person, actor=actor)
        person.set_unusable_password()
        person.save()
        person.groups.add(Group.objects.get(name=roles.EMPLOYEES))
        record_person_created(
            actor=actor, person=person, manager_email=email_of(manager), via=VIA_FORM, ip=ip
        )
        invitations_send([person], actor=actor, via=VIA_FORM, ip=ip)
    return person


# --- Self sign-up (only where PORTAL_SELF_SIGNUP allows it) ------------------------------------


def person_signed_up(*, person: User, ip: str | None = None) -> None:
    """A person who signed up themselves is an employee like anyone HR imported."""
    with transaction.atomic():
        mark_placed(person, actor=person)
        person.save(update_fields=["placed_by", "placed_at"])
        person.groups.add(Group.objects.get(name=roles.EMPLOYEES))
        record_person_created(actor=person, person=person, manager_email="", via=VIA_SIGN_UP, ip=ip)


# --- A leaver -------------------------------------------------------------------------------


def person_deactivate(*, person: User, actor: User | str, ip: str | None = None) -> int:
    """Close a leaver's portal account at once, in the caller's transaction: no more sign-in,
    every stored session ended. Returns how many sessions were ended. `actor` is HR, or the
    identity provider that said the person left ("scim:okta")."""
    now = timezone.now()
    person.is_active = False
    person.employment_status = EmploymentStatus.LEFT
    person.left_at = person.left_at or now
    person.save(update_fields=["is_active", "employment_status", "left_at"])
    ended = _end_sessions(person, now=now)
    audit.record(
        "person.deactivated",
        actor=actor,
        target=person.audit_target,
        data={"email": person.email, "left_at": person.left_at, "sessions_ended": ended},
        ip=ip,
    )
    return ended


def _end_sessions(person: User, *, now: datetime) -> int:
    """Delete every stored session of the person; returns how many.

    The portal's sessions (accounts/sessions.py) know whose they are: one indexed DELETE.
    Plain database sessions are not indexed by person, so each unexpired one is decoded. With
    an engine that cannot be listed (signed cookies, plain cache) nothing is deleted here, and
    the next request of such a session is still refused: Django's ModelBackend gives no user
    for an inactive account."""
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    if issubclass(store_class, PortalSessionStore):
        ended, _ = PortalSession.objects.filter(user_id=person.pk, expire_date__gt=now).delete()
        return ended
    if not issubclass(store_class, DatabaseSessionStore):
        return 0
    ended = 0
    for session in Session.objects.filter(expire_date__gt=now).iterator():
        if str(session.get_decoded().get(SESSION_KEY)) == str(person.pk):
            # Through the store, so a cached_db engine forgets its cached copy as well.
            store_class(session_key=session.session_key).delete()
            ended += 1
    return ended


def reports_reassign(
    *,
    manager: User,
    actor: User | str,
    reason: str,
    offboarding_id: int | None,
    ip: str | None = None,
) -> list[User]:
    """A leaving manager's active reports now report to the leaver's own manager, so their
    pending requests have someone to decide them today. Returns the reports moved. An
    identity provider (a str actor) is no person: it places them, but no one is recorded as
    their placer."""
    placer = actor if isinstance(actor, User) else None
    new_manager = manager.manager
    reports = list(User.objects.select_for_update().filter(manager=manager, is_active=True))
    for report in reports:
        report.manager = new_manager
        mark_placed(report, actor=placer)
        report.save(update_fields=["manager", "placed_by", "placed_at"])
        record_person_updated(
            actor=actor,
            person=report,
            before={"manager": manager.email},
            after={"manager": email_of(new_manager) or None},
            via=VIA_OFFBOARDING,
            reason=reason,
            offboarding_id=offboarding_id,
            ip=ip,
        )
    announce_org_chart_change(reports, actor=placer, ip=ip)
    return reports


# --- A person's own preferences -------------------------------------------------------------


def preferences_update(*, person: User, approval_emails: str, ip: str | None = None) -> bool:
    """How the person hears of requests waiting for them. False when nothing changed."""
    if approval_emails not in ApprovalEmails.values:
        raise PeopleError("Choose an email for each request, or one digest a day.")
    if person.approval_emails == approval_emails:
        return False
    with transaction.atomic():
        before = person.approval_emails
        person.approval_emails = approval_emails
        person.save(update_fields=["approval_emails"])
        audit.record(
            "person.preferences_updated",
            actor=person,
            target=person.audit_target,
            data={"approval_emails": [before, approval_emails]},
            ip=ip,
        )
    return True
