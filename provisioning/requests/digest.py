"""The daily approval digest: for approvers who chose it, one email listing everything that
waits for their decision, instead of an email per request (and instead of reminders)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import roles
from accounts.models import ApprovalEmails, User
from accounts.selectors import security_admins
from common.emails import send_templated_email
from provisioning.requests.models import ApprovalDigest
from provisioning.requests.selectors import requests_awaiting_decision_by

logger = logging.getLogger(__name__)


def approval_digests_send(*, now: datetime | None = None) -> list[str]:
    """Send today's digest to every approver who chose it and has something waiting.
    Returns the addresses sent to. Safe to run as often as beat likes: one a day each."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if timezone.localtime(now).hour < settings.APPROVAL_DIGEST_HOUR:
        return []
    candidates = User.objects.filter(
        Q(reports__is_active=True) | Q(pk__in=security_admins().values("pk")),
        is_active=True,
        approval_emails=ApprovalEmails.DAILY,
    ).distinct()
    sent = []
    for approver in candidates:
        if not (roles.is_manager(approver) or roles.is_security_admin(approver)):
            continue
        waiting = list(requests_awaiting_decision_by(approver))
        if not waiting:
            continue
        try:
            with transaction.atomic():
                ApprovalDigest.objects.create(recipient=approver, day=today, requests=len(waiting))
                send_templated_email(
                    "approval_digest",
                    [approver.email],
                    {"approver": approver, "access_requests": waiting, "now": now},
                )
        except IntegrityError:
            continue  # already sent today
        except OSError:
            # Not recorded either (the transaction rolled back): the next run tries again.
            logger.exception("Could not send the approval digest to %s", approver.email)
            continue
        sent.append(approver.email)
    return sent
