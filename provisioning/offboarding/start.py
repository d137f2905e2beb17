"""HR's confirming transaction: the portal part of an offboarding, all at once.

Each change goes through the service that owns it, under that service's audit action: the
person's deactivation and their reports' new manager (accounts), the cancelled requests
(requests), the revoked credential links (credentials). Only `offboarding.started` is
offboarding's own."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from accounts.services import person_deactivate, reports_reassign
from provisioning import queue
from provisioning.credentials.links import credential_links_revoke_for_leaver
from provisioning.errors import (
    OffboardingAlreadyRunning,
    OffboardingError,
    OffboardingNotAllowed,
)
from provisioning.models import AccessRequest, Offboarding
from provisioning.offboarding.report import jsonable
from provisioning.offboarding.selectors import OPEN_STATUSES
from provisioning.requests.cancel import access_requests_cancel_for_leaver

MANAGER_OFFBOARDED = "manager offboarded"


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
    leaver and refuse if an offboarding of theirs is still running; deactivate the portal
    account and delete every stored session of it; cancel their open requests; revoke their
    unused credential links, wiping the sealed secrets; move their reports (and so the
    reports' pending requests) to the leaver's own manager; record it all on the Offboarding,
    with an audit row per change; enqueue the teardown once committed (`enqueue=False` leaves
    that to the caller, as `manage.py offboard --wait` does)."""
    if not (actor.is_active and actor.has_perm(roles.OFFBOARD_PEOPLE)):
        raise OffboardingNotAllowed("Only HR can offboard people.")
    if actor.pk == person.pk:
        raise OffboardingNotAllowed("You cannot offboard yourself: ask another HR person.")
    if mode not in Offboarding.Mode.values:
        raise OffboardingError(f"Unknown offboarding mode {mode!r}.")
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=person.pk)
        if Offboarding.objects.filter(person=person, status__in=OPEN_STATUSES).exists():
            raise OffboardingAlreadyRunning(
                f"{person} is already being offboarded: see the report on their page."
            )
        offboarding = Offboarding.objects.create(person=person, started_by=actor, mode=mode)
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
            data={
                "email": person.email,
                "mode": mode,
                "sessions_ended": portal["sessions_ended"],
                "requests_cancelled": len(portal["requests_cancelled"]),
                "links_revoked": portal["links_revoked"],
                "reports_moved": [moved["email"] for moved in portal["reports_moved"]],
            },
            ip=ip,
        )
        if enqueue:
            queue.teardown_on_commit(offboarding.pk)
    return offboarding


def _reports_moved(
    person: User, offboarding: Offboarding, *, actor: User, ip: str | None
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
