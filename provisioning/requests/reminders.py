"""Reminding approvers of requests that have waited too long."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from accounts.selectors import security_admins
from provisioning.models import AccessRequest, Approval
from provisioning.requests import notifications, selectors
from provisioning.requests.notifications import wants_each_email

logger = logging.getLogger(__name__)

Status = AccessRequest.Status


def _reminder_recipients(access_request: AccessRequest, admins: list[User]) -> list[str]:
    approver = access_request.first_approver
    if access_request.status == Status.PENDING and approver is not None and approver.is_active:
        # The daily digest already reminds those who chose it.
        return [approver.email] if wants_each_email(approver) else []
    first = next(
        (a for a in access_request.approvals.all() if a.stage == Approval.Stage.MANAGER), None
    )
    exclude = {first.approver_id if first else None}
    requester = access_request.requester
    return [
        admin.email
        for admin in admins
        if admin.pk not in exclude
        and selectors.may_decide_for(admin, requester)
        and wants_each_email(admin)
    ]


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
        .select_related("requester__placed_by", "first_approver", "role_group")
        .prefetch_related("approvals")
        .order_by("submitted_at")
    )
    by_recipient: dict[str, list[AccessRequest]] = defaultdict(list)
    admins = list(security_admins())
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
        for address in _reminder_recipients(access_request, admins):
            by_recipient[address].append(access_request)
    for address, waiting in by_recipient.items():
        try:
            notifications.approval_reminder(address, waiting, now=now)
        except Exception:
            # One unreachable mailbox must not keep the other approvers from their reminder.
            logger.exception("Could not send an approval reminder to %s", address)
    return reminded
