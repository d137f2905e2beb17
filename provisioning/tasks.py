"""Thin Celery tasks: they take ids, re-read the row and call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def provision_access_request(request_id: int) -> None:
    """Provision an approved access request (filled in by the onboarding work)."""


# --- Approval reminders (access requests) ---------------------------------------------------


@shared_task
def send_approval_reminders() -> int:
    """Hourly (beat): remind approvers of requests pending longer than APPROVAL_REMINDER_HOURS."""
    # Imported here: provisioning.requests enqueues provisioning from this module.
    from provisioning.requests import approval_reminders_send

    return approval_reminders_send()
