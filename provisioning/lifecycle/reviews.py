"""Access reviews (recertification): a security admin starts a campaign over every live grant
(or those of chosen role-groups) with a deadline; each grant's reviewer keeps or revokes it.

Who reviews a grant, fixed when the campaign starts:
- a security admin, for a sensitive role-group;
- otherwise the holder's manager, unless there is none who may (none set, left, or the
  manager placed the holder in the org chart recently): then a security admin;
- never the holder, whoever they are.

Each decision is claimed with a conditional UPDATE (`review.decided`, with the reason); a
revocation goes through `grant_end_begin`, the one path of `grant.revoked`. What happens at
the deadline is in review_deadlines.py, the evidence in review_report.py."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from provisioning import queue
from provisioning.errors import AlreadyReviewed, ReviewError, ReviewNotAllowed
from provisioning.lifecycle import selectors
from provisioning.lifecycle.ending import check_reason, grant_end_begin, grant_payload
from provisioning.models import AccessReview, Grant, IamAccount, ReviewItem, RoleGroup

NAME_MAX_LENGTH = 200
Decision = ReviewItem.Decision
Route = ReviewItem.Route


def review_route(grant: Grant) -> tuple[User | None, str]:
    """(reviewer, route) for a grant; a None reviewer means the security admins."""
    holder = grant.iam_account.owner
    if grant.role_group.sensitive:
        return None, Route.SENSITIVE
    manager = holder.manager
    if (
        manager is not None
        and manager.is_active
        and manager.pk != holder.pk
        and not holder.recently_placed_by(manager)
    ):
        return manager, Route.MANAGER
    return None, Route.NO_MANAGER


def access_review_start(
    *,
    actor: User,
    name: str,
    deadline: date,
    at_deadline: str,
    role_groups: list[RoleGroup] | None = None,
    ip: str | None = None,
) -> AccessReview:
    """Start a campaign: one item per live grant in scope, each with its reviewer.

    After commit the worker emails the reviewers and reads each holder's last AWS activity
    (review_deadlines.access_review_prepare)."""
    if not roles.is_security_admin(actor):
        raise ReviewNotAllowed("Only security admins start access reviews.")
    name = (name or "").strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise ReviewError(f"Name the review (at most {NAME_MAX_LENGTH} characters).")
    if deadline <= timezone.localdate():
        raise ReviewError("Choose a deadline after today: reviewers need time to decide.")
    if at_deadline not in AccessReview.AtDeadline.values:
        raise ReviewError("Choose what happens at the deadline: revoke or escalate.")
    chosen = list(role_groups or [])
    grants = (
        selectors.active_grants()
        .filter(iam_account__status=IamAccount.Status.ACTIVE)
        .select_related(
            "iam_account__owner__manager", "iam_account__owner__placed_by", "role_group"
        )
        .order_by("pk")
    )
    if chosen:
        grants = grants.filter(role_group__in=chosen)
    with transaction.atomic():
        in_scope = list(grants.select_for_update(of=("self",)))
        if not in_scope:
            raise ReviewError("There is no live access to review in that scope.")
        campaign = AccessReview.objects.create(
            name=name, started_by=actor, deadline=deadline, at_deadline=at_deadline
        )
        campaign.role_groups.set(chosen)
        items = []
        for grant in in_scope:
            reviewer, route = review_route(grant)
            items.append(
                ReviewItem(
                    campaign=campaign,
                    grant=grant,
                    holder=grant.iam_account.owner,
                    reviewer=reviewer,
                    route=route,
                )
            )
        ReviewItem.objects.bulk_create(items)
        audit.record(
            "review.started",
            actor=actor,
            target=campaign.audit_target,
            data={
                "name": name,
                "deadline": deadline,
                "at_deadline": at_deadline,
                "role_groups": sorted(group.name for group in chosen) or "all",
                "items": len(items),
                "reviewers": sorted({item.reviewer.email for item in items if item.reviewer}),
                "security_admins_review": sum(1 for item in items if item.reviewer is None),
            },
            ip=ip,
        )
        queue.review_start_on_commit(campaign.pk)
    return campaign


def access_review_close_if_done(campaign: AccessReview) -> bool:
    """Close the campaign once nothing in it waits for a decision (in the caller's
    transaction). True when this call closed it."""
    if campaign.items.filter(decision=Decision.PENDING).exists():
        return False
    closed_at = timezone.now()
    closed = AccessReview.objects.filter(pk=campaign.pk, status=AccessReview.Status.OPEN).update(
        status=AccessReview.Status.CLOSED, closed_at=closed_at
    )
    if closed != 1:
        return False
    campaign.status, campaign.closed_at = AccessReview.Status.CLOSED, closed_at
    counts = selectors.campaign_decision_counts(campaign)
    audit.record(
        "review.closed",
        target=campaign.audit_target,
        data={"name": campaign.name, "decisions": {k or "pending": v for k, v in counts.items()}},
    )
    return True


def record_decision(
    item: ReviewItem, *, decision: str, actor: User | None, reason: str, ip: str | None = None
) -> bool:
    """Claim the item's decision (a conditional UPDATE) and audit it; a revocation ends the
    grant. False when it was decided already. In the caller's transaction."""
    now = timezone.now()
    claimed = ReviewItem.objects.filter(pk=item.pk, decision=Decision.PENDING).update(
        decision=decision, decided_by=actor, decided_at=now, reason=reason
    )
    if claimed != 1:
        return False
    item.decision, item.decided_by, item.decided_at, item.reason = decision, actor, now, reason
    grant = item.grant
    audit.record(
        "review.decided",
        actor=actor,
        target=item.audit_target,
        subject=item.holder_id,
        data={
            **grant_payload(grant),
            "access_review": item.campaign_id,
            "review": item.campaign.name,
            "route": item.route,
            "decision": decision,
            "reason": reason,
        },
        ip=ip,
    )
    if decision in (Decision.REVOKE, Decision.UNREVIEWED):
        grant_end_begin(
            grant,
            end=Grant.End.REVOKED,
            actor=actor,
            reason=f"Access review “{item.campaign.name}”: {reason}",
            ip=ip,
            data={"access_review": item.campaign_id, "review_item": item.pk},
        )
    return True


def review_item_decide(
    *, item_id: int, actor: User, decision: str, reason: str = "", ip: str | None = None
) -> ReviewItem:
    """A reviewer keeps or revokes one grant. Revoking needs a reason (the holder reads it);
    keeping may carry one. A grant that ended meanwhile is recorded as such."""
    if decision not in (Decision.KEEP, Decision.REVOKE):
        raise ReviewError("Choose keep or revoke.")
    reason = check_reason(reason) if decision == Decision.REVOKE or reason.strip() else ""
    with transaction.atomic():
        item = selectors.review_item_get(item_id)
        if item is None or not selectors.may_review(actor, item):
            raise ReviewNotAllowed(f"There is no review item #{item_id} for you to decide.")
        if item.decision != Decision.PENDING:
            raise AlreadyReviewed(
                f"{item.holder}'s {item.grant.role_group.name} was already reviewed "
                f"({item.get_decision_display().lower()})."
            )
        if item.campaign.status != AccessReview.Status.OPEN:
            raise AlreadyReviewed(f"The review “{item.campaign.name}” is closed.")
        if item.grant.state != Grant.State.ACTIVE:
            decision, reason = (
                Decision.ENDED,
                f"the grant had already ended ({item.grant.get_state_display().lower()})",
            )
        if not record_decision(item, decision=decision, actor=actor, reason=reason, ip=ip):
            raise AlreadyReviewed("Someone else decided this item just now.")
        access_review_close_if_done(item.campaign)
    return item
