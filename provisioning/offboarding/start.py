"""HR's confirming transaction: the portal part of an offboarding, all at once.

Each change goes through the service that owns it, under that service's audit action: the
person's deactivation and their reports' new manager (accounts), the cancelled requests
(requests), the revoked credential links (credentials). Only `offboarding.*` is
offboarding's own.

A privileged leaver (HR, security admin, auditor) needs a second person: HR's click records
the request (`offboarding.requested`) and cuts nothing; a security admin who is neither the
leaver nor that HR person confirms it (`offboarding_confirm`), and only then is the portal
cut. The last active security admin cannot be offboarded at all.

The identity provider can start one too (SCIM, `offboarding_start_for_leaver`): its portal
account is closed at once, and a privileged leaver's AWS teardown still waits for a
security admin.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from accounts.selectors import security_admins
from accounts.services import person_deactivate, reports_reassign
from provisioning import queue
from provisioning.credentials.links import credential_links_revoke_for_leaver
from provisioning.errors import (
    OffboardingAlreadyRunning,
    OffboardingError,
    OffboardingNotAllowed,
)
from provisioning.models import AccessRequest, Offboarding
from provisioning.offboarding import notifications
from provisioning.offboarding.report import jsonable
from provisioning.offboarding.selectors import UNFINISHED_STATUSES
from provisioning.requests.cancel import access_requests_cancel_for_leaver

MANAGER_OFFBOARDED = "manager offboarded"
DECLINE_REASON_MAX_LENGTH = 1000

Status = Offboarding.Status


def is_privileged_leaver(person: User) -> bool:
    """People whose leaving changes who can run the portal itself (their permissions read in
    one query, as the signed-in person's are)."""
    roles.load_roles(person)
    return person.is_superuser or any(
        person.has_perm(permission)
        for permission in (
            roles.MANAGE_PEOPLE,
            roles.OFFBOARD_PEOPLE,
            roles.OPERATE_PROVISIONING,
            roles.VIEW_AUDIT,
        )
    )


def is_last_security_admin(person: User) -> bool:
    return roles.is_security_admin(person) and not security_admins().exclude(pk=person.pk).exists()


def _refuse_last_security_admin(person: User) -> None:
    if is_last_security_admin(person):
        raise OffboardingNotAllowed(
            f"{person} is the last active security admin: make someone else a security admin "
            "first, or nobody could run the portal's security."
        )


def offboarding_start(
    *,
    actor: User,
    person: User,
    mode: str = Offboarding.Mode.DELETE,
    ip: str | None = None,
    enqueue: bool = True,
) -> Offboarding:
    """Offboard a leaver. Everything in the portal happens here, in one transaction; AWS
    follows in the worker.

    Steps: check the actor holds the offboarding permission and is not the leaver; lock the
    leaver and refuse if an offboarding of theirs is unfinished; a privileged leaver's
    offboarding waits for a security admin's confirmation (nothing cut yet); otherwise cut
    the portal (see `_cut_portal`) and enqueue the teardown once committed (`enqueue=False`
    leaves that to the caller, as `manage.py offboard --wait` does)."""
    if not (actor.is_active and actor.has_perm(roles.OFFBOARD_PEOPLE)):
        raise OffboardingNotAllowed("Only HR can offboard people.")
    if actor.pk == person.pk:
        raise OffboardingNotAllowed("You cannot offboard yourself: ask another HR person.")
    if mode not in Offboarding.Mode.values:
        raise OffboardingError(f"Unknown offboarding mode {mode!r}.")
    # One batch of audit rows at the end: the chain's lock is held only from there to the
    # commit, so twenty HR confirms at once do not queue behind each other's whole transaction.
    with transaction.atomic(), audit.batch():
        person = User.objects.select_for_update().get(pk=person.pk)
        if Offboarding.objects.filter(person=person, status__in=UNFINISHED_STATUSES).exists():
            raise OffboardingAlreadyRunning(
                f"{person} is already being offboarded: see the report on their page."
            )
        if is_privileged_leaver(person):
            _refuse_last_security_admin(person)
            offboarding = Offboarding.objects.create(
                person=person, started_by=actor, mode=mode, status=Status.AWAITING_CONFIRMATION
            )
            audit.record(
                "offboarding.requested",
                actor=actor,
                target=offboarding.audit_target,
                subject=offboarding.person_id,
                data={"email": person.email, "mode": mode, "needs": "security admin"},
                ip=ip,
            )
            transaction.on_commit(
                lambda: notifications.confirmation_needed(offboarding), robust=True
            )
            return offboarding
        offboarding = Offboarding.objects.create(person=person, started_by=actor, mode=mode)
        _cut_portal(offboarding, actor=actor, ip=ip, enqueue=enqueue)
    return offboarding


def offboarding_confirm(
    *, offboarding_id: int, actor: User, ip: str | None = None, enqueue: bool = True
) -> Offboarding:
    """A security admin confirms HR's offboarding of a privileged person: the portal part
    happens now, exactly as for anyone else. The confirmer is neither the leaver nor the HR
    person who asked; of two confirming at once, one does (a conditional UPDATE)."""
    with transaction.atomic(), audit.batch():
        offboarding = _for_second_person(offboarding_id, actor)
        person = User.objects.select_for_update().get(pk=offboarding.person_id)
        _refuse_last_security_admin(person)
        now = timezone.now()
        claimed = Offboarding.objects.filter(
            pk=offboarding.pk, status=Status.AWAITING_CONFIRMATION
        ).update(status=Status.PENDING, confirmed_by=actor, confirmed_at=now)
        if claimed != 1:
            raise OffboardingError("Another security admin has just decided this offboarding.")
        offboarding.refresh_from_db()
        audit.record(
            "offboarding.confirmed",
            actor=actor,
            target=offboarding.audit_target,
            subject=offboarding.person_id,
            data={"email": person.email, "requested_by": offboarding.started_by_label},
            ip=ip,
        )
        _cut_portal(offboarding, actor=actor, ip=ip, enqueue=enqueue)
    return offboarding


def offboarding_decline(
    *, offboarding_id: int, actor: User, reason: str, ip: str | None = None
) -> Offboarding:
    """A security admin declines HR's offboarding of a privileged person, with a reason HR
    reads. Nothing was cut, and nothing is."""
    reason = (reason or "").strip()
    if not reason:
        raise OffboardingError("Give a reason for declining: HR will read it.")
    if len(reason) > DECLINE_REASON_MAX_LENGTH:
        raise OffboardingError(f"Keep the reason under {DECLINE_REASON_MAX_LENGTH} characters.")
    with transaction.atomic():
        offboarding = _for_second_person(offboarding_id, actor)
        claimed = Offboarding.objects.filter(
            pk=offboarding.pk, status=Status.AWAITING_CONFIRMATION
        ).update(
            status=Status.DECLINED,
            confirmed_by=actor,
            confirmed_at=timezone.now(),
            decline_reason=reason,
            finished_at=timezone.now(),
        )
        if claimed != 1:
            raise OffboardingError("Another security admin has just decided this offboarding.")
        offboarding.refresh_from_db()
        audit.record(
            "offboarding.declined",
            actor=actor,
            target=offboarding.audit_target,
            subject=offboarding.person_id,
            data={"email": offboarding.person.email, "reason": reason},
            ip=ip,
        )
        transaction.on_commit(lambda: notifications.declined(offboarding), robust=True)
    return offboarding


def _for_second_person(offboarding_id: int, actor: User) -> Offboarding:
    offboarding = (
        Offboarding.objects.select_related("person", "started_by").filter(pk=offboarding_id).first()
    )
    if offboarding is None:
        raise OffboardingError(f"There is no offboarding #{offboarding_id}.")
    if not (actor.is_active and roles.is_security_admin(actor)):
        raise OffboardingNotAllowed("Only a security admin confirms a privileged offboarding.")
    if actor.pk in (offboarding.person_id, offboarding.started_by_id):
        raise OffboardingNotAllowed(
            "A second person must confirm: not the leaver, and not the HR person who asked."
        )
    if offboarding.status != Status.AWAITING_CONFIRMATION:
        raise OffboardingError(
            f"Offboarding #{offboarding.pk} is {offboarding.get_status_display().lower()}: "
            "there is nothing to confirm."
        )
    return offboarding


def offboarding_start_for_leaver(
    *, source: str, person: User, mode: str = Offboarding.Mode.DELETE, ip: str | None = None
) -> Offboarding | None:
    """The identity provider says the person has left (`source` names it, "scim:okta"): what
    HR's click would do, in the caller's transaction, with `source` as the actor. Their
    portal account is closed at once, whoever they are; a privileged leaver's offboarding
    then waits for a security admin (`offboarding_confirm`), as HR's would. Returns None
    when an offboarding of theirs is already under way."""
    if mode not in Offboarding.Mode.values:
        raise OffboardingError(f"Unknown offboarding mode {mode!r}.")
    person = User.objects.select_for_update().get(pk=person.pk)
    if Offboarding.objects.filter(person=person, status__in=UNFINISHED_STATUSES).exists():
        if person.is_active:
            person_deactivate(person=person, actor=source, ip=ip)
        return None
    if is_privileged_leaver(person):
        offboarding = Offboarding.objects.create(
            person=person, started_via=source, mode=mode, status=Status.AWAITING_CONFIRMATION
        )
        audit.record(
            "offboarding.requested",
            actor=source,
            target=offboarding.audit_target,
            subject=offboarding.person_id,
            data={"email": person.email, "mode": mode, "needs": "security admin"},
            ip=ip,
        )
        # The identity provider is the source of truth for who works here: the account
        # closes now; only AWS waits for the second person.
        person_deactivate(person=person, actor=source, ip=ip)
        transaction.on_commit(lambda: notifications.confirmation_needed(offboarding), robust=True)
        return offboarding
    offboarding = Offboarding.objects.create(person=person, started_via=source, mode=mode)
    _cut_portal(offboarding, actor=source, ip=ip, enqueue=True)
    return offboarding


def _cut_portal(
    offboarding: Offboarding, *, actor: User | str, ip: str | None, enqueue: bool
) -> None:
    """Deactivate the portal account and delete every stored session of it; cancel their
    open requests; revoke their unused credential links, wiping the sealed secrets; move
    their reports (and so the reports' pending requests) to the leaver's own manager; record
    it all on the Offboarding, with an audit row per change; enqueue the teardown."""
    person = offboarding.person
    portal: dict[str, Any] = {"deactivated_at": timezone.now(), "was_active": person.is_active}
    portal["sessions_ended"] = person_deactivate(person=person, actor=actor, ip=ip)
    portal["requests_cancelled"] = access_requests_cancel_for_leaver(
        person=person, actor=actor, offboarding_id=offboarding.pk, ip=ip
    )
    portal["links_revoked"] = credential_links_revoke_for_leaver(
        person=person, actor=actor, offboarding_id=offboarding.pk, ip=ip
    )
    portal["reports_moved"] = _reports_moved(person, offboarding, actor=actor, ip=ip)
    offboarding.report = jsonable({"portal": portal})
    offboarding.save(update_fields=["report"])
    audit.record(
        "offboarding.started",
        actor=actor,
        target=offboarding.audit_target,
        subject=offboarding.person_id,
        data={
            "email": person.email,
            "mode": offboarding.mode,
            "sessions_ended": portal["sessions_ended"],
            "requests_cancelled": len(portal["requests_cancelled"]),
            "links_revoked": portal["links_revoked"],
            "reports_moved": [moved["email"] for moved in portal["reports_moved"]],
        },
        ip=ip,
    )
    if enqueue:
        queue.teardown_on_commit(offboarding.pk)


def _reports_moved(
    person: User, offboarding: Offboarding, *, actor: User | str, ip: str | None
) -> list[dict[str, Any]]:
    """The leaver's reports now report to the leaver's manager, so their pending requests have
    someone to decide them today. HR is told, because that is rarely the right manager for
    long."""
    moved = reports_reassign(
        manager=person,
        actor=actor,
        reason=MANAGER_OFFBOARDED,
        offboarding_id=offboarding.pk,
        ip=ip,
    )
    new_manager = person.manager
    return [
        {
            "id": report.pk,
            "email": report.email,
            "name": report.get_full_name(),
            "new_manager": new_manager.email if new_manager else None,
            "pending_requests": AccessRequest.objects.filter(
                requester=report, status__in=AccessRequest.UNDECIDED_STATUSES
            ).count(),
        }
        for report in moved
    ]
