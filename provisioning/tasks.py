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


# --- Offboarding ----------------------------------------------------------------------------

OFFBOARDING_MAX_RETRIES = 8


def _offboarding_backoff(retries: int) -> int:
    """Seconds before retrying a transient AWS failure: 3, 6, 12, ... capped at a minute."""
    return min(3 * 2**retries, 60)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=300,
    max_retries=OFFBOARDING_MAX_RETRIES,
)
def teardown_offboarding(self, offboarding_id: int) -> None:
    """Tear down a leaver's IAM users and verify (provisioning/offboarding.py). Acks late: a
    worker killed mid-teardown leaves the message to be redelivered, and the recorded steps
    make the next run resume where it stopped."""
    import logging

    from celery.exceptions import SoftTimeLimitExceeded

    from provisioning import aws
    from provisioning.offboarding import (
        OffboardingBusy,
        offboarding_give_up,
        offboarding_teardown,
    )

    try:
        offboarding_teardown(offboarding_id=offboarding_id)
    except OffboardingBusy:
        # Another worker is on it; look again later. Once it has finished this is a no-op.
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=10) from None
    except (aws.AwsError, SoftTimeLimitExceeded) as error:
        transient = isinstance(error, SoftTimeLimitExceeded) or error.transient
        if transient and self.request.retries < self.max_retries:
            raise self.retry(countdown=_offboarding_backoff(self.request.retries)) from None
        offboarding_give_up(offboarding_id=offboarding_id, reason=str(error) or "timed out")
    except Exception as error:
        logging.getLogger(__name__).exception("offboarding %s failed", offboarding_id)
        offboarding_give_up(
            offboarding_id=offboarding_id, reason=f"unexpected error ({type(error).__name__})"
        )
