"""Cancelling requests: withdrawn by the requester, or ended because the requester left.

Both are one event, `request.cancelled`, with one payload built in one place."""

from __future__ import annotations

from django.db import transaction

import audit
from accounts.models import User
from provisioning.errors import AlreadyDecided, RequestNotFound
from provisioning.models import AccessRequest
from provisioning.requests.decisions import claim_status, load_request

WITHDRAWN = "withdrawn by the requester"
REQUESTER_OFFBOARDED = "requester offboarded"
GRANT_ENDED = "the access it would extend ended"


def _record_cancelled(
    access_request: AccessRequest,
    *,
    actor: User | str | None,
    was: str,
    reason: str,
    offboarding_id: int | None,
    ip: str | None,
) -> None:
    audit.record(
        "request.cancelled",
        actor=actor,
        target=access_request.audit_target,
        subject=access_request.requester_id,
        data={
            "role_group": access_request.role_group.name if access_request.role_group else None,
            "was": was,
            "reason": reason,
            "offboarding": offboarding_id,
        },
        ip=ip,
    )


def access_request_cancel(
    *, access_request_id: int, actor: User, ip: str | None = None
) -> AccessRequest:
    """The requester withdraws a request nobody has decided yet."""
    with transaction.atomic():
        access_request = load_request(access_request_id)
        if access_request.requester_id != actor.pk:
            # Someone else's request: as if it did not exist.
            raise RequestNotFound(f"There is no request #{access_request_id}.")
        if access_request.status not in AccessRequest.UNDECIDED_STATUSES:
            raise AlreadyDecided(
                f"Request #{access_request.pk} is already "
                f"{access_request.get_status_display().lower()}: it can no longer be cancelled."
            )
        was = access_request.status
        claim_status(access_request, AccessRequest.Status.CANCELLED, final=False)
        _record_cancelled(
            access_request, actor=actor, was=was, reason=WITHDRAWN, offboarding_id=None, ip=ip
        )
    return access_request


def access_requests_cancel_for_leaver(
    *, person: User, actor: User | str, offboarding_id: int, ip: str | None = None
) -> list[dict[str, object]]:
    """Every open request of a person being offboarded, cancelled in the caller's transaction
    (whatever its stage: a request mid-provisioning stops at its next recorded step, since the
    run re-checks the status). Returns what was cancelled, for the offboarding's report."""
    # of=("self",): role_group is nullable, and Postgres cannot lock the outer side of a join.
    open_requests = list(
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("role_group")
        .filter(requester=person, status__in=AccessRequest.OPEN_STATUSES)
        .order_by("pk")
    )
    cancelled: list[dict[str, object]] = []
    for access_request in open_requests:
        was = access_request.status
        access_request.status = AccessRequest.Status.CANCELLED
        access_request.save(update_fields=["status", "updated_at"])
        _record_cancelled(
            access_request,
            actor=actor,
            was=was,
            reason=REQUESTER_OFFBOARDED,
            offboarding_id=offboarding_id,
            ip=ip,
        )
        role_group = access_request.role_group.name if access_request.role_group else None
        cancelled.append({"id": access_request.pk, "role_group": role_group, "was": was})
    return cancelled


def access_requests_cancel_for_ended_grant(
    *, grant_id: int, actor: User | None, ip: str | None = None
) -> list[AccessRequest]:
    """Open extensions of a grant that is ending, cancelled in the caller's transaction: there
    is nothing left for them to extend (the person asks anew if they still need it)."""
    open_requests = list(
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("role_group")
        .filter(grant_id=grant_id, status__in=AccessRequest.OPEN_STATUSES)
        .order_by("pk")
    )
    for access_request in open_requests:
        was = access_request.status
        access_request.status = AccessRequest.Status.CANCELLED
        access_request.save(update_fields=["status", "updated_at"])
        _record_cancelled(
            access_request, actor=actor, was=was, reason=GRANT_ENDED, offboarding_id=None, ip=ip
        )
    return open_requests
