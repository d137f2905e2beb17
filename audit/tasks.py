"""The audit trail's periodic jobs (beat): anchoring its head outside the database."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from audit.anchors import anchor_email, anchor_publish


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def publish_audit_anchor() -> int | None:
    """Every AUDIT_ANCHOR_SECONDS: the head, to the anchor log (and file)."""
    anchor = anchor_publish()
    return anchor.head_id if anchor else None


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def email_audit_anchor() -> int | None:
    """Daily: the head, by email to the auditors."""
    anchor = anchor_email()
    return anchor.head_id if anchor else None
