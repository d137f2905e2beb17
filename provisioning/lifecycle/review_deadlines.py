"""The worker's part of access reviews: a new campaign's emails and evidence, reminders, and
the deadline.

- `access_review_prepare` (enqueued when a campaign starts): each reviewer is emailed once
  (claimed with `notified_at`), then each holder's last AWS activity is read (console sign-in,
  access-key use) and kept on their items as evidence. A transient AWS error goes back to the
  task to retry; what was read stays read.
- `access_review_reminders_send`: reviewers with items waiting longer than
  REVIEW_REMINDER_HOURS are reminded, at most once per such window per item.
- `access_review_deadlines_apply`: the day after a campaign's deadline, what nobody reviewed
  is revoked (a `review.decided` "unreviewed" row, then `grant.revoked`) or escalated to the
  security admins, as the campaign says; the campaign closes when nothing is left.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User
from accounts.selectors import security_admins
from provisioning import aws
from provisioning.lifecycle import notifications
from provisioning.lifecycle.reviews import access_review_close_if_done, record_decision
from provisioning.models import AccessReview, Grant, ReviewItem

logger = logging.getLogger(__name__)

Decision = ReviewItem.Decision


def access_review_prepare(*, campaign_id: int) -> int:
    """Email the campaign's reviewers (once) and read its holders' last AWS activity.
    Returns how many IAM users were read; raises transient `aws.AwsError`s to be retried."""
    campaign = AccessReview.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return 0
    if AccessReview.objects.filter(pk=campaign_id, notified_at__isnull=True).update(
        notified_at=timezone.now()
    ):
        counts: Counter[User | None] = Counter(
            item.reviewer
            for item in campaign.items.filter(decision=Decision.PENDING).select_related("reviewer")
        )
        try:
            notifications.review_assigned(campaign, dict(counts))
        except OSError:
            logger.exception("Could not email the reviewers of access review %s", campaign_id)
    user_names = (
        campaign.items.filter(activity_checked_at__isnull=True)
        .values_list("grant__iam_account__user_name", flat=True)
        .distinct()
    )
    read = 0
    for user_name in sorted(set(user_names)):
        activity = aws.user_activity(user_name)
        campaign.items.filter(grant__iam_account__user_name=user_name).update(
            console_last_used=activity.console_last_used,
            access_key_last_used=activity.access_key_last_used,
            access_key_last_service=activity.access_key_last_service,
            activity_checked_at=timezone.now(),
        )
        read += 1
    return read


def _recipients(item: ReviewItem, admins: list[User]) -> list[str]:
    if item.reviewer is not None:
        return [item.reviewer.email]
    return [admin.email for admin in admins if admin.pk != item.holder_id]


def access_review_reminders_send(*, now: datetime | None = None) -> int:
    """Remind reviewers of items waiting longer than REVIEW_REMINDER_HOURS (each item claimed
    with a conditional UPDATE of `reminded_at`). One email per reviewer. Returns how many items."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.REVIEW_REMINDER_HOURS)
    waiting = (
        ReviewItem.objects.filter(
            decision=Decision.PENDING,
            campaign__status=AccessReview.Status.OPEN,
            campaign__started_at__lte=cutoff,
        )
        .exclude(reminded_at__gt=cutoff)
        .select_related("campaign", "reviewer")
        .order_by("pk")
    )
    admins = list(security_admins())
    by_address: dict[str, Counter[AccessReview]] = defaultdict(Counter)
    reminded = 0
    for item in waiting:
        claimed = ReviewItem.objects.filter(
            pk=item.pk, decision=Decision.PENDING, reminded_at=item.reminded_at
        ).update(reminded_at=now)
        if claimed != 1:
            continue
        reminded += 1
        for address in _recipients(item, admins):
            by_address[address][item.campaign] += 1
    for address, campaigns in by_address.items():
        try:
            notifications.review_reminder(address, dict(campaigns))
        except Exception:
            logger.exception("Could not send a review reminder to %s", address)
    return reminded


def _apply_deadline(campaign: AccessReview, now: datetime) -> int:
    pending = list(
        campaign.items.filter(decision=Decision.PENDING).select_related(
            "campaign", "grant__iam_account__owner", "grant__role_group"
        )
    )
    escalated = []
    for item in pending:
        if item.grant.state != Grant.State.ACTIVE:
            record_decision(
                item,
                decision=Decision.ENDED,
                actor=None,
                reason=f"the grant had already ended ({item.grant.get_state_display().lower()})",
            )
        elif campaign.at_deadline == AccessReview.AtDeadline.REVOKE:
            record_decision(
                item,
                decision=Decision.UNREVIEWED,
                actor=None,
                reason=f"not reviewed by the deadline ({campaign.deadline:%d %b %Y})",
            )
        else:
            escalated.append(item.pk)
    if escalated:
        ReviewItem.objects.filter(pk__in=escalated).update(
            reviewer=None, route=ReviewItem.Route.ESCALATED, escalated_at=now
        )
        audit.record(
            "review.escalated",
            target=campaign.audit_target,
            data={"name": campaign.name, "deadline": campaign.deadline, "items": escalated},
        )
    access_review_close_if_done(campaign)
    return len(escalated)


def access_review_deadlines_apply(*, now: datetime | None = None) -> list[AccessReview]:
    """Apply the deadline of every open campaign whose deadline day has passed, once each
    (claimed with `deadline_applied_at`). Returns those campaigns."""
    now = now or timezone.now()
    due = AccessReview.objects.filter(
        status=AccessReview.Status.OPEN,
        deadline__lt=timezone.localdate(now),
        deadline_applied_at__isnull=True,
    ).order_by("pk")
    applied = []
    for campaign in due:
        with transaction.atomic():
            if (
                AccessReview.objects.filter(
                    pk=campaign.pk, deadline_applied_at__isnull=True
                ).update(deadline_applied_at=now)
                != 1
            ):
                continue
            escalated = _apply_deadline(campaign, now)
        applied.append(campaign)
        if escalated:
            try:
                notifications.review_escalated(campaign, escalated)
            except OSError:
                logger.exception("Could not email the escalation of access review %s", campaign.pk)
    return applied
