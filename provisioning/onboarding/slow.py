"""Provisioning that takes longer than usual: the security admins are told, once per request,
in one email per run (the requester's page says so meanwhile)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

import audit
from accounts.selectors import security_admin_emails
from common.emails import send_templated_email
from provisioning.models import AccessRequest
from provisioning.onboarding.selectors import slow_requests

logger = logging.getLogger(__name__)


def slow_provisioning_notify(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Claim each slow request not yet told of (a conditional UPDATE, so two runs never tell
    twice), audit it, and email the security admins the list. Returns the request ids."""
    now = now or timezone.now()
    waiting = list(
        slow_requests(now=now)
        .filter(slow_notified_at__isnull=True)
        .select_related("requester", "role_group")
        .order_by("decided_at")[:limit]
    )
    told: list[AccessRequest] = []
    with transaction.atomic():
        for access_request in waiting:
            claimed = AccessRequest.objects.filter(
                pk=access_request.pk, slow_notified_at__isnull=True
            ).update(slow_notified_at=now)
            if claimed != 1:
                continue
            audit.record(
                "request.provisioning_slow",
                target=access_request.audit_target,
                subject=access_request.requester_id,
                data={"status": access_request.status, "approved_at": access_request.decided_at},
            )
            told.append(access_request)
        if told:
            transaction.on_commit(lambda: _email(told, now))
    return [r.pk for r in told]


def _email(told: list[AccessRequest], now: datetime) -> None:
    try:
        send_templated_email(
            "provisioning_slow_admins",
            security_admin_emails(),
            {"access_requests": told, "now": now},
        )
    except OSError:
        # The operations page lists them anyway; the requester's page already says so.
        logger.exception("Could not email the security admins about slow provisioning")
