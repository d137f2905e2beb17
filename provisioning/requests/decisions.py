"""Deciding access requests: the stage an approver may decide, approval, rejection, bulk.

Who decides:
- The first stage belongs to the requester's manager. A person without an active manager
  (none set, or the manager has left) would otherwise wait forever, so the security admins
  decide that stage for them; the requester is told so when submitting.
- A sensitive role-group (or a change of access type for an IAM user that holds one) then needs
  a second approval by a security admin who is neither the first approver nor the requester.
- Nobody decides their own request.

Each decision is claimed with a conditional UPDATE on the status, so of two people clicking at
once exactly one decides. Emails go out after the commit; provisioning is enqueued on commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from provisioning import queue
from provisioning.errors import (
    AlreadyDecided,
    DecisionNotAllowed,
    RequestInvalid,
    RequestNotFound,
)
from provisioning.models import AccessRequest, Approval
from provisioning.requests import notifications, selectors

REASON_MAX_LENGTH = 1000
BULK_MAX = 200

Status = AccessRequest.Status


def load_request(access_request_id: int) -> AccessRequest:
    try:
        return AccessRequest.objects.select_related(
            "requester__manager", "role_group", "iam_account", "first_approver"
        ).get(pk=access_request_id)
    except (AccessRequest.DoesNotExist, ValueError, TypeError):
        raise RequestNotFound(f"There is no request #{access_request_id}.") from None


def _first_approval(access_request: AccessRequest) -> Approval | None:
    return (
        Approval.objects.filter(request=access_request, stage=Approval.Stage.MANAGER)
        .select_related("approver")
        .first()
    )


def _first_stage_decider(access_request: AccessRequest) -> User | None:
    """The approver fixed at submission, while they can still decide; None: security admins."""
    approver = access_request.first_approver
    return approver if approver is not None and approver.is_active else None


def access_request_decision_stage(*, access_request: AccessRequest, actor: User) -> str:
    """The stage `actor` would decide on this request now, or a refusal saying why not.

    Never the requester, and never whoever placed the requester in the org chart within
    ORG_CHART_COOLDOWN_DAYS: an identity and its access always pass two different people."""
    requester = access_request.requester
    if actor.pk == requester.pk:
        raise DecisionNotAllowed("You cannot decide your own request.")
    if requester.recently_placed_by(actor):
        raise DecisionNotAllowed(
            f"You placed {requester} in the org chart on {requester.placed_at:%d %b %Y}: "
            f"someone else must decide request #{access_request.pk}."
        )
    manager = _first_stage_decider(access_request)
    is_security = roles.is_security_admin(actor)
    if access_request.status == Status.PENDING:
        if manager is not None and actor.pk != manager.pk:
            raise DecisionNotAllowed(
                f"Only {requester}'s manager can decide request #{access_request.pk} ({manager})."
            )
        if manager is None and not is_security:
            why = (
                "their manager placed them in the org chart recently"
                if access_request.route == AccessRequest.Route.PLACED_BY_MANAGER
                else "they have no manager"
            )
            raise DecisionNotAllowed(
                f"{requester} has no manager who may decide ({why}): only a security admin "
                f"can decide request #{access_request.pk}."
            )
        return Approval.Stage.MANAGER
    if access_request.status == Status.AWAITING_SECOND_APPROVAL:
        if not is_security:
            raise DecisionNotAllowed(
                f"Request #{access_request.pk} needs a second approval by a security admin."
            )
        first = _first_approval(access_request)
        if first is not None and first.approver_id == actor.pk:
            raise DecisionNotAllowed(
                f"You gave the first approval of request #{access_request.pk}: another "
                "security admin must give the second."
            )
        return Approval.Stage.SECURITY
    if (manager is not None and actor.pk == manager.pk) or is_security:
        raise AlreadyDecided(
            f"Request #{access_request.pk} is already "
            f"{access_request.get_status_display().lower()}."
        )
    raise DecisionNotAllowed(f"You cannot decide request #{access_request.pk}.")


def _needs_second_approval(access_request: AccessRequest) -> bool:
    if access_request.role_group is not None:
        return access_request.role_group.sensitive
    # New credentials for an IAM user holding a sensitive group are as sensitive as the group.
    return (
        selectors.live_grants_of(access_request.requester)
        .filter(role_group__sensitive=True)
        .exists()
    )


def claim_status(access_request: AccessRequest, new_status: str, *, final: bool) -> None:
    now = timezone.now()
    changed = AccessRequest.objects.filter(
        pk=access_request.pk, status=access_request.status
    ).update(status=new_status, decided_at=now if final else None, updated_at=now)
    if changed != 1:
        raise AlreadyDecided(f"Request #{access_request.pk} was decided by someone else.")
    access_request.status = new_status
    access_request.decided_at = now if final else None
    access_request.updated_at = now


def access_request_approve(
    *, access_request_id: int, actor: User, ip: str | None = None
) -> AccessRequest:
    """Approve the current stage.

    A manager's approval of a sensitive request moves it to `awaiting_second_approval` (the
    requester and the security admins are emailed); any other approval makes it `approved`
    and enqueues provisioning on commit."""
    with transaction.atomic():
        access_request = load_request(access_request_id)
        stage = access_request_decision_stage(access_request=access_request, actor=actor)
        if not access_request.requester.is_active:
            raise RequestInvalid(
                f"{access_request.requester} has left: reject request #{access_request.pk}."
            )
        if access_request.role_group is not None and not access_request.role_group.active:
            raise RequestInvalid(
                f"{access_request.role_group.name} is no longer offered: reject request "
                f"#{access_request.pk}."
            )
        second_needed = stage == Approval.Stage.MANAGER and _needs_second_approval(access_request)
        new_status = Status.AWAITING_SECOND_APPROVAL if second_needed else Status.APPROVED
        claim_status(access_request, new_status, final=not second_needed)
        approval = Approval.objects.create(
            request=access_request,
            approver=actor,
            stage=stage,
            decision=Approval.Decision.APPROVED,
        )
        audit.record(
            "request.approved" if stage == Approval.Stage.MANAGER else "request.second_approval",
            actor=actor,
            target=access_request.audit_target,
            subject=access_request.requester_id,
            data={
                "stage": stage,
                "status": new_status,
                "requester": access_request.requester.email,
                "role_group": access_request.role_group.name if access_request.role_group else None,
            },
            ip=ip,
        )
        if new_status == Status.APPROVED:
            queue.provision_on_commit(access_request.pk)
        transaction.on_commit(
            lambda: notifications.request_decided(access_request, approval), robust=True
        )
        if second_needed:
            transaction.on_commit(
                lambda: notifications.second_approval_needed(access_request, approval),
                robust=True,
            )
    return access_request


def access_request_reject(
    *, access_request_id: int, actor: User, reason: str, ip: str | None = None
) -> AccessRequest:
    """Reject at the current stage with a reason, which the requester is emailed."""
    reason = (reason or "").strip()
    if not reason:
        raise RequestInvalid("Give a reason for rejecting: the requester will read it.")
    if len(reason) > REASON_MAX_LENGTH:
        raise RequestInvalid(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    with transaction.atomic():
        access_request = load_request(access_request_id)
        stage = access_request_decision_stage(access_request=access_request, actor=actor)
        claim_status(access_request, Status.REJECTED, final=True)
        approval = Approval.objects.create(
            request=access_request,
            approver=actor,
            stage=stage,
            decision=Approval.Decision.REJECTED,
            reason=reason,
        )
        audit.record(
            "request.rejected",
            actor=actor,
            target=access_request.audit_target,
            subject=access_request.requester_id,
            data={
                "stage": stage,
                "reason": reason,
                "requester": access_request.requester.email,
                "role_group": access_request.role_group.name if access_request.role_group else None,
            },
            ip=ip,
        )
        transaction.on_commit(
            lambda: notifications.request_decided(access_request, approval), robust=True
        )
    return access_request


@dataclass
class BulkOutcome:
    decided: list[AccessRequest] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _bulk_ids(access_request_ids: Iterable[int]) -> list[int]:
    ids = list(dict.fromkeys(access_request_ids))
    if not ids:
        raise RequestInvalid("Select at least one request.")
    if len(ids) > BULK_MAX:
        raise RequestInvalid(f"Decide at most {BULK_MAX} requests at once.")
    return ids


def access_requests_approve_bulk(
    *, access_request_ids: Iterable[int], actor: User, ip: str | None = None
) -> BulkOutcome:
    """Approve each request on its own: one refusal (not yours, decided meanwhile) leaves the
    others decided, and says which."""
    outcome = BulkOutcome()
    for pk in _bulk_ids(access_request_ids):
        try:
            outcome.decided.append(access_request_approve(access_request_id=pk, actor=actor, ip=ip))
        except (RequestInvalid, RequestNotFound, DecisionNotAllowed, AlreadyDecided) as error:
            outcome.refused.append(str(error))
    return outcome


def access_requests_reject_bulk(
    *, access_request_ids: Iterable[int], actor: User, reason: str, ip: str | None = None
) -> BulkOutcome:
    ids = _bulk_ids(access_request_ids)
    if not (reason or "").strip():
        raise RequestInvalid("Give a reason for rejecting: the requesters will read it.")
    outcome = BulkOutcome()
    for pk in ids:
        try:
            outcome.decided.append(
                access_request_reject(access_request_id=pk, actor=actor, reason=reason, ip=ip)
            )
        except (RequestInvalid, RequestNotFound, DecisionNotAllowed, AlreadyDecided) as error:
            outcome.refused.append(str(error))
    return outcome
