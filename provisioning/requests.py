"""Access requests: submission, decisions, cancellation and approval reminders.

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

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

import audit
from accounts import roles
from accounts.models import User
from provisioning import notifications, selectors
from provisioning.errors import (
    AlreadyDecided,
    AlreadyHeld,
    DecisionNotAllowed,
    DuplicateOpenRequest,
    RequestInvalid,
    RequestNotFound,
)
from provisioning.models import AccessRequest, Approval, IamAccount, RoleGroup
from provisioning.naming import iam_user_name_for, names_taken_except_by
from provisioning.tasks import provision_access_request

logger = logging.getLogger(__name__)

JUSTIFICATION_MIN_LENGTH = 20
JUSTIFICATION_MAX_LENGTH = 1000
REASON_MAX_LENGTH = 1000
BULK_MAX = 200

Status = AccessRequest.Status
AccessType = AccessRequest.AccessType
_CONSOLE_TYPES = {AccessType.CONSOLE, AccessType.BOTH}
_KEY_TYPES = {AccessType.PROGRAMMATIC, AccessType.BOTH}
# Serialises the choice of new IAM user names, so two people cannot be given the same one.
_NAMING_LOCK_KEY = 7_142_101


def _target(access_request: AccessRequest) -> str:
    return f"access_request:{access_request.pk}"


# --- Submission -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRequest:
    """One request a submission will create: a role-group (or none: access type only)."""

    role_group: RoleGroup | None
    end_date: date | None


@dataclass(frozen=True)
class RequestPlan:
    """Exactly what a submission will create, shown on the review page before sending."""

    requester: Any
    iam_user_name: str
    existing_account: IamAccount | None
    current_access_type: str
    access_type: str
    justification: str
    requests: tuple[PlannedRequest, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    copied_from: Any | None = None
    approver: Any | None = None

    @property
    def is_change(self) -> bool:
        return self.existing_account is not None

    @property
    def console(self) -> bool:
        return self.access_type in _CONSOLE_TYPES

    @property
    def access_key(self) -> bool:
        return self.access_type in _KEY_TYPES

    @property
    def new_console_password(self) -> bool:
        """A console password is made (and must be changed at first sign-in) when console access
        is new for this IAM user."""
        return self.console and self.current_access_type not in _CONSOLE_TYPES

    @property
    def new_access_key(self) -> bool:
        return self.access_key and self.current_access_type not in _KEY_TYPES

    @property
    def removes_console(self) -> bool:
        return self.is_change and not self.console and self.current_access_type in _CONSOLE_TYPES

    @property
    def removes_access_key(self) -> bool:
        return self.is_change and not self.access_key and self.current_access_type in _KEY_TYPES

    @property
    def role_groups(self) -> list[RoleGroup]:
        return [planned.role_group for planned in self.requests if planned.role_group]

    def digest(self) -> str:
        """A keyed fingerprint of the plan: the confirm step refuses to send anything other
        than what was reviewed (tampered hidden fields, or something changed meanwhile)."""
        body = {
            "requester": self.requester.pk,
            "iam_user_name": self.iam_user_name,
            "existing_account": self.existing_account.pk if self.existing_account else None,
            "access_type": self.access_type,
            "justification": self.justification,
            "requests": [
                [p.role_group.pk if p.role_group else None, str(p.end_date or "")]
                for p in self.requests
            ],
            "copied_from": self.copied_from.pk if self.copied_from else None,
        }
        return salted_hmac(
            "provisioning.access_request_review", json.dumps(body, sort_keys=True)
        ).hexdigest()


class PlanChanged(RequestInvalid):
    """What would be created differs from what the requester reviewed."""

    def __init__(self, plan: RequestPlan) -> None:
        self.plan = plan
        super().__init__(
            "The request changed after you reviewed it. Check the details again and confirm."
        )


def _end_date_for(role_group: RoleGroup, end_date: date | None, today: date) -> date | None:
    if end_date is not None and end_date < today:
        raise RequestInvalid("The end date cannot be in the past.")
    if role_group.max_duration_days is None:
        return end_date
    latest = today + timedelta(days=role_group.max_duration_days)
    if end_date is None:
        # A group with a maximum duration is never granted open-ended.
        return latest
    if end_date > latest:
        raise RequestInvalid(
            f"{role_group.name} can be held for at most {role_group.max_duration_days} days: "
            f"choose an end date on or before {latest:%d %b %Y}."
        )
    return end_date


def _iam_user_name(requester: Any, account: IamAccount | None) -> str:
    if account is not None:
        return account.user_name
    # A person whose first request is still in flight keeps the name it was given, so two
    # requests never create two IAM users.
    earlier = (
        AccessRequest.objects.filter(requester=requester)
        .exclude(iam_user_name="")
        .exclude(iam_user_name__in=IamAccount.objects.values("user_name"))
        .order_by("-submitted_at", "-pk")
        .values_list("iam_user_name", flat=True)
        .first()
    )
    if earlier:
        return earlier
    return iam_user_name_for(requester.email, is_taken=names_taken_except_by(requester.pk))


def _check_justification(justification: str) -> str:
    text = justification.strip()
    if not JUSTIFICATION_MIN_LENGTH <= len(text) <= JUSTIFICATION_MAX_LENGTH:
        raise RequestInvalid(
            f"The justification must be {JUSTIFICATION_MIN_LENGTH} to "
            f"{JUSTIFICATION_MAX_LENGTH} characters."
        )
    return text


def access_request_plan(
    *,
    requester: Any,
    access_type: str,
    justification: str,
    role_group: RoleGroup | None = None,
    colleague: Any | None = None,
    end_date: date | None = None,
) -> RequestPlan:
    """Work out what a submission would create, refusing what the rules do not allow.

    Either a role-group, or a colleague whose live role-groups are copied (one request per
    group, skipping those held or already asked for), or neither: then only the access type of
    the requester's existing IAM user changes."""
    if not requester.is_active:
        raise RequestInvalid("Only active people can request access.")
    if access_type not in AccessType.values:
        raise RequestInvalid("Choose console, programmatic or both.")
    if role_group is not None and colleague is not None:
        raise RequestInvalid("Choose a role-group or a colleague to copy, not both.")
    text = _check_justification(justification)
    today = timezone.localdate()
    account = selectors.live_iam_account_of(requester)
    current = selectors.current_access_type(requester) if account else ""
    held = {grant.role_group_id: grant for grant in selectors.live_grants_of(requester)}
    open_requests = list(selectors.open_requests_of(requester))
    open_by_group = {r.role_group_id: r for r in open_requests if r.role_group_id}

    planned: list[PlannedRequest] = []
    skipped: list[tuple[str, str]] = []
    if colleague is not None:
        if colleague.pk == requester.pk:
            raise RequestInvalid("Choose a colleague other than yourself.")
        if not colleague.is_active:
            raise RequestInvalid(f"{colleague} is not an active colleague.")
        groups = sorted(
            {g.role_group_id: g.role_group for g in selectors.live_grants_of(colleague)}.values(),
            key=lambda group: group.name,
        )
        if not groups:
            raise RequestInvalid(f"{colleague} holds no role-groups to copy.")
        for group in groups:
            if not group.active:
                skipped.append((group.name, "no longer offered"))
            elif group.pk in held:
                skipped.append((group.name, "you already have it"))
            elif group.pk in open_by_group:
                skipped.append((group.name, "you have already asked for it"))
            else:
                planned.append(PlannedRequest(group, _end_date_for(group, end_date, today)))
        if not planned:
            raise RequestInvalid(
                f"Nothing to request: you already have or have asked for every role-group "
                f"{colleague} holds."
            )
    elif role_group is not None:
        if not role_group.active:
            raise RequestInvalid(f"{role_group.name} is no longer offered.")
        if role_group.pk in held:
            raise AlreadyHeld(
                f"You already have {role_group.name} (IAM user {held[role_group.pk].iam_account})."
            )
        if role_group.pk in open_by_group:
            existing = open_by_group[role_group.pk]
            raise DuplicateOpenRequest(
                f"You already have an open request for {role_group.name} "
                f"(#{existing.pk}, {existing.get_status_display().lower()})."
            )
        planned.append(PlannedRequest(role_group, _end_date_for(role_group, end_date, today)))
    else:
        if account is None:
            raise RequestInvalid("Choose a role-group: you have no IAM user yet.")
        if access_type == current:
            raise RequestInvalid(
                f"Your IAM user {account.user_name} already has "
                f"{AccessType(access_type).label.lower()} access: choose a role-group or a "
                f"different access type."
            )
        if any(r.role_group_id is None for r in open_requests):
            raise DuplicateOpenRequest("You already have an open request to change access type.")
        if end_date is not None:
            raise RequestInvalid("An end date applies to a role-group; choose one or leave it.")
        planned.append(PlannedRequest(None, None))

    return RequestPlan(
        requester=requester,
        iam_user_name=_iam_user_name(requester, account),
        existing_account=account,
        current_access_type=current,
        access_type=access_type,
        justification=text,
        requests=tuple(planned),
        skipped=tuple(skipped),
        copied_from=colleague,
        approver=selectors.first_stage_approver(requester),
    )


def access_request_submit(
    *,
    requester: Any,
    access_type: str,
    justification: str,
    role_group: RoleGroup | None = None,
    colleague: Any | None = None,
    end_date: date | None = None,
    reviewed_digest: str | None = None,
    ip: str | None = None,
) -> list[AccessRequest]:
    """Submit what `access_request_plan` describes.

    1. Lock the requester (one submission at a time per person) and, for a new IAM user,
       the naming lock; re-plan under the locks.
    2. Refuse if the plan differs from the one reviewed (`reviewed_digest`).
    3. Create one request per planned role-group, audit `request.submitted` for each.
    4. After commit, email the first-stage approver (manager, else the security admins).
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=requester.pk).first()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_NAMING_LOCK_KEY])
        plan = access_request_plan(
            requester=requester,
            access_type=access_type,
            justification=justification,
            role_group=role_group,
            colleague=colleague,
            end_date=end_date,
        )
        if reviewed_digest is not None and not constant_time_compare(
            reviewed_digest, plan.digest()
        ):
            raise PlanChanged(plan)
        created = []
        for planned in plan.requests:
            try:
                with transaction.atomic():
                    access_request = AccessRequest.objects.create(
                        requester=requester,
                        role_group=planned.role_group,
                        access_type=plan.access_type,
                        justification=plan.justification,
                        end_date=planned.end_date,
                        copied_from=plan.copied_from,
                        iam_account=plan.existing_account,
                        iam_user_name=plan.iam_user_name,
                    )
            except IntegrityError:
                name = planned.role_group.name if planned.role_group else "this change"
                raise DuplicateOpenRequest(
                    f"You already have an open request for {name}."
                ) from None
            audit.record(
                "request.submitted",
                actor=requester,
                target=_target(access_request),
                data={
                    "role_group": planned.role_group.name if planned.role_group else None,
                    "access_type": plan.access_type,
                    "iam_user_name": plan.iam_user_name,
                    "change_to_existing_user": plan.is_change,
                    "end_date": planned.end_date,
                    "copied_from": plan.copied_from.email if plan.copied_from else None,
                },
                ip=ip,
            )
            created.append(access_request)
        transaction.on_commit(
            lambda: notifications.request_submitted(created, approver=plan.approver),
            robust=True,
        )
    return created


# --- Decisions ------------------------------------------------------------------------------


def _load(access_request_id: int) -> AccessRequest:
    try:
        return AccessRequest.objects.select_related(
            "requester__manager", "role_group", "iam_account"
        ).get(pk=access_request_id)
    except (AccessRequest.DoesNotExist, ValueError, TypeError):
        raise RequestNotFound(f"There is no request #{access_request_id}.") from None


def _first_approval(access_request: AccessRequest) -> Approval | None:
    return (
        Approval.objects.filter(request=access_request, stage=Approval.Stage.MANAGER)
        .select_related("approver")
        .first()
    )


def access_request_decision_stage(*, access_request: AccessRequest, actor: Any) -> str:
    """The stage `actor` would decide on this request now, or a refusal saying why not."""
    requester = access_request.requester
    if actor.pk == requester.pk:
        raise DecisionNotAllowed("You cannot decide your own request.")
    manager = selectors.first_stage_approver(requester)
    is_security = roles.is_security_admin(actor)
    if access_request.status == Status.PENDING:
        if manager is not None and actor.pk != manager.pk:
            raise DecisionNotAllowed(
                f"Only {requester}'s manager can decide request #{access_request.pk}."
            )
        if manager is None and not is_security:
            raise DecisionNotAllowed(
                f"{requester} has no manager: only a security admin can decide "
                f"request #{access_request.pk}."
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


def _claim(access_request: AccessRequest, new_status: str, *, final: bool) -> None:
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
    *, access_request_id: int, actor: Any, ip: str | None = None
) -> AccessRequest:
    """Approve the current stage.

    A manager's approval of a sensitive request moves it to `awaiting_second_approval` (the
    requester and the security admins are emailed); any other approval makes it `approved`
    and enqueues provisioning on commit."""
    with transaction.atomic():
        access_request = _load(access_request_id)
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
        _claim(access_request, new_status, final=not second_needed)
        approval = Approval.objects.create(
            request=access_request,
            approver=actor,
            stage=stage,
            decision=Approval.Decision.APPROVED,
        )
        audit.record(
            "request.approved" if stage == Approval.Stage.MANAGER else "request.second_approval",
            actor=actor,
            target=_target(access_request),
            data={
                "stage": stage,
                "status": new_status,
                "requester": access_request.requester.email,
                "role_group": access_request.role_group.name if access_request.role_group else None,
            },
            ip=ip,
        )
        if new_status == Status.APPROVED:
            provision_access_request.delay_on_commit(access_request.pk)
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
    *, access_request_id: int, actor: Any, reason: str, ip: str | None = None
) -> AccessRequest:
    """Reject at the current stage with a reason, which the requester is emailed."""
    reason = (reason or "").strip()
    if not reason:
        raise RequestInvalid("Give a reason for rejecting: the requester will read it.")
    if len(reason) > REASON_MAX_LENGTH:
        raise RequestInvalid(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    with transaction.atomic():
        access_request = _load(access_request_id)
        stage = access_request_decision_stage(access_request=access_request, actor=actor)
        _claim(access_request, Status.REJECTED, final=True)
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
            target=_target(access_request),
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
    *, access_request_ids: Iterable[int], actor: Any, ip: str | None = None
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
    *, access_request_ids: Iterable[int], actor: Any, reason: str, ip: str | None = None
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


def access_request_cancel(
    *, access_request_id: int, actor: Any, ip: str | None = None
) -> AccessRequest:
    """The requester withdraws a request nobody has decided yet."""
    with transaction.atomic():
        access_request = _load(access_request_id)
        if access_request.requester_id != actor.pk:
            # Someone else's request: as if it did not exist.
            raise RequestNotFound(f"There is no request #{access_request_id}.")
        if access_request.status not in AccessRequest.UNDECIDED_STATUSES:
            raise AlreadyDecided(
                f"Request #{access_request.pk} is already "
                f"{access_request.get_status_display().lower()}: it can no longer be cancelled."
            )
        _claim(access_request, Status.CANCELLED, final=False)
        audit.record(
            "request.cancelled",
            actor=actor,
            target=_target(access_request),
            data={
                "role_group": access_request.role_group.name if access_request.role_group else None
            },
            ip=ip,
        )
    return access_request


# --- Reminders ------------------------------------------------------------------------------


def _reminder_recipients(access_request: AccessRequest, security_admins: list[Any]) -> list[str]:
    if access_request.status == Status.PENDING:
        manager = selectors.first_stage_approver(access_request.requester)
        if manager is not None:
            return [manager.email]
    first = next(
        (a for a in access_request.approvals.all() if a.stage == Approval.Stage.MANAGER), None
    )
    exclude = {access_request.requester_id, first.approver_id if first else None}
    return [admin.email for admin in security_admins if admin.pk not in exclude]


def approval_reminders_send(*, now: datetime | None = None) -> int:
    """Remind approvers of requests waiting longer than APPROVAL_REMINDER_HOURS, at most once
    per such window per request. Each request is claimed with a conditional UPDATE of
    `reminded_at`, so two overlapping runs never remind twice. Returns how many requests."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.APPROVAL_REMINDER_HOURS)
    overdue = (
        AccessRequest.objects.filter(
            status__in=AccessRequest.UNDECIDED_STATUSES, submitted_at__lte=cutoff
        )
        .exclude(reminded_at__gt=cutoff)
        .select_related("requester__manager", "role_group")
        .prefetch_related("approvals")
        .order_by("submitted_at")
    )
    by_recipient: dict[str, list[AccessRequest]] = defaultdict(list)
    security_admins = list(selectors.security_admins())
    reminded = 0
    for access_request in overdue:
        claimed = AccessRequest.objects.filter(
            pk=access_request.pk,
            status=access_request.status,
            reminded_at=access_request.reminded_at,
        ).update(reminded_at=now)
        if claimed != 1:
            continue
        reminded += 1
        for address in _reminder_recipients(access_request, security_admins):
            by_recipient[address].append(access_request)
    for address, waiting in by_recipient.items():
        try:
            notifications.approval_reminder(address, waiting, now=now)
        except Exception:
            # One unreachable mailbox must not keep the other approvers from their reminder.
            logger.exception("Could not send an approval reminder to %s", address)
    return reminded
