"""Deciding that a grant ends: it expires, is revoked, is given up, or its holder is
offboarded. One function decides each end, with its one audit action:

- `grant.expired`: the end date (or temporary access's exact end) has passed (the worker);
- `grant.revoked`: the holder's manager or a security admin, with a reason (or an access
  review: a reviewer's decision, or nobody's by the deadline);
- `grant.relinquished`: the holder gives it up;
- `grant.offboarded`: the holder's offboarding removed every group (offboarding/teardown).

The decision is a conditional UPDATE (a grant ends once, whoever clicks first), written with
its audit row; the grant is then "ending" until the worker has removed the IAM membership
(lifecycle/removal.py), which is enqueued on commit. Open extensions of it are cancelled.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User
from provisioning import queue
from provisioning.errors import GrantNotActive, GrantNotAllowed, GrantNotFound, RequestInvalid
from provisioning.lifecycle import selectors
from provisioning.models import Grant, IamAccount
from provisioning.requests.cancel import access_requests_cancel_for_ended_grant

REASON_MAX_LENGTH = 1000
End = Grant.End

ACTIONS = {
    End.EXPIRED: "grant.expired",
    End.REVOKED: "grant.revoked",
    End.RELINQUISHED: "grant.relinquished",
    End.OFFBOARDED: "grant.offboarded",
}


def grant_payload(grant: Grant) -> dict[str, Any]:
    """What every audit row about a grant says about it."""
    return {
        "grant": grant.pk,
        "holder": grant.iam_account.owner.email,
        "iam_user": grant.iam_account.user_name,
        "role_group": grant.role_group.name,
        "iam_group": grant.role_group.iam_group_name,
        "granted_at": grant.granted_at,
        "ends_on": grant.ends_on,
        "ends_at": grant.ends_at,
    }


def check_reason(reason: str, *, for_whom: str = "the holder") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RequestInvalid(f"Give a reason: {for_whom} will read it.")
    if len(reason) > REASON_MAX_LENGTH:
        raise RequestInvalid(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    return reason


def grant_end_begin(
    grant: Grant,
    *,
    end: str,
    actor: User | None,
    reason: str,
    ip: str | None = None,
    data: dict[str, Any] | None = None,
    enqueue: bool = True,
) -> bool:
    """In the caller's transaction: the grant ends (`end`, who, why), audited; its open
    extensions are cancelled and (unless the caller enqueues several at once: `enqueue`) its
    removal from IAM enqueued on commit. False when it was already ending or ended (nothing
    is written)."""
    now = timezone.now()
    changed = Grant.objects.filter(pk=grant.pk, revoked_at__isnull=True, end="").update(
        end=end, end_requested_at=now, ended_by=actor, end_reason=reason, updated_at=now
    )
    if changed != 1:
        return False
    grant.end, grant.end_requested_at, grant.end_reason = end, now, reason
    grant.ended_by = actor
    audit.record(
        ACTIONS[End(end)],
        actor=actor,
        target=grant.audit_target,
        subject=grant.iam_account.owner_id,
        data={**grant_payload(grant), "reason": reason, **(data or {})},
        ip=ip,
    )
    access_requests_cancel_for_ended_grant(grant_id=grant.pk, actor=actor, ip=ip)
    if enqueue:
        queue.end_grants_on_commit([grant.pk])
    return True


def _grant_or_404(grant_id: int) -> Grant:
    grant = selectors.grant_for_action(grant_id)
    if grant is None:
        raise GrantNotFound(f"There is no grant #{grant_id}.")
    return grant


def _refuse_unless_active(grant: Grant) -> None:
    if grant.state == Grant.State.ENDING:
        raise GrantNotActive(f"{grant.role_group.name} is already being removed.")
    if grant.state == Grant.State.ENDED:
        raise GrantNotActive(f"{grant.role_group.name} has already ended.")


def grant_revoke(
    *,
    grant_id: int,
    actor: User,
    reason: str,
    ip: str | None = None,
) -> Grant:
    """The holder's manager or a security admin takes a grant away, with a reason the holder
    reads. Removal in AWS follows within seconds (the worker)."""
    reason = check_reason(reason)
    with transaction.atomic():
        grant = _grant_or_404(grant_id)
        if not selectors.may_revoke(actor, grant):
            raise GrantNotAllowed(
                "Only the holder's manager or a security admin can revoke this access."
                if grant.iam_account.owner_id != actor.pk
                else "This is your own access: give it up instead."
            )
        _refuse_unless_active(grant)
        if not grant_end_begin(grant, end=End.REVOKED, actor=actor, reason=reason, ip=ip):
            raise GrantNotActive(f"{grant.role_group.name} was ended by someone else just now.")
    return grant


def grant_relinquish(*, grant_id: int, actor: User, ip: str | None = None) -> Grant:
    """The holder gives up a grant they no longer need."""
    with transaction.atomic():
        grant = _grant_or_404(grant_id)
        if grant.iam_account.owner_id != actor.pk:
            # Someone else's grant: as if it did not exist.
            raise GrantNotFound(f"There is no grant #{grant_id}.")
        _refuse_unless_active(grant)
        if not grant_end_begin(
            grant, end=End.RELINQUISHED, actor=actor, reason="given up by the holder", ip=ip
        ):
            raise GrantNotActive(f"{grant.role_group.name} is already being removed.")
    return grant


def grants_end_for_offboarding(*, account: IamAccount, offboarding_id: int) -> list[str]:
    """The offboarding's teardown has taken the IAM user out of every group: its live grants
    end now, in the caller's transaction. Grants already ending (revoked, say, a moment
    before) keep their end; the teardown did their removal. Returns the role-groups ended."""
    now = timezone.now()
    grants = list(
        Grant.objects.filter(iam_account=account, revoked_at__isnull=True)
        .select_related("role_group", "iam_account__owner")
        .order_by("role_group__name")
    )
    for grant in grants:
        if grant.end:
            Grant.objects.filter(pk=grant.pk).update(revoked_at=now, updated_at=now)
            continue
        Grant.objects.filter(pk=grant.pk).update(
            end=End.OFFBOARDED,
            end_requested_at=now,
            end_reason="holder offboarded",
            revoked_at=now,
            steps_done=["group"],
            updated_at=now,
        )
        audit.record(
            ACTIONS[End.OFFBOARDED],
            target=grant.audit_target,
            subject=grant.iam_account.owner_id,
            data={**grant_payload(grant), "offboarding": offboarding_id, "ended_at": now},
        )
    return [grant.role_group.name for grant in grants]
