"""Thin Celery tasks: they take ids, re-read the row and call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def provision_access_request(request_id: int) -> None:
    """Provision an approved access request (filled in by the onboarding work)."""
