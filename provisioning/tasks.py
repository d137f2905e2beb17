"""Thin Celery tasks: they take ids, re-read the row and call a service."""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


# --- Provisioning (onboarding) --------------------------------------------------------------


class SweptTask(DjangoTask):
    """`delay_on_commit` that never raises into the caller. By the time it runs the approval
    (or HR's offboarding) is committed; if the broker is down, the work stays where it is and
    a sweeper enqueues it once the broker is back. The person clicking sees no error."""

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        transaction.on_commit(functools.partial(self._delay_or_log, *args, **kwargs))

    def _delay_or_log(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.delay(*args, **kwargs)
        except Exception:
            logger.warning(
                "Could not enqueue %s%r: the broker is unreachable. The stuck-request sweeper "
                "will enqueue it later.",
                self.name,
                args,
                exc_info=True,
            )


def _provisioning_backoff(retries: int) -> int:
    return get_exponential_backoff_interval(
        factor=settings.PROVISIONING_RETRY_BASE_SECONDS,
        retries=retries,
        maximum=settings.PROVISIONING_RETRY_MAX_SECONDS,
        full_jitter=True,
    )


@shared_task(
    base=SweptTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=settings.PROVISIONING_MAX_RETRIES,
)
def provision_access_request(self: Any, request_id: int) -> str:
    """Provision an approved access request (provisioning/provisioning.py). Takes the id only:
    secrets never travel through the broker. Acks late and is re-delivered if its worker dies;
    the claim and the recorded steps make any re-delivery safe."""
    from celery.exceptions import SoftTimeLimitExceeded

    from provisioning.provisioning import (
        ProvisioningDeferred,
        access_request_provision,
        access_request_provision_crashed,
    )

    try:
        return access_request_provision(
            request_id=request_id,
            final_attempt=self.request.retries >= self.max_retries,
            interruptions=(SoftTimeLimitExceeded,),
        )
    except ProvisioningDeferred:
        raise self.retry(countdown=_provisioning_backoff(self.request.retries)) from None
    except Exception as error:
        logger.exception("Provisioning request %s failed unexpectedly", request_id)
        access_request_provision_crashed(request_id=request_id, error=error)
        return "failed"


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def sweep_stuck_requests() -> int:
    """Beat, every PROVISIONING_SWEEP_SECONDS: re-enqueue requests stuck in approved (their
    task was lost) or provisioning (their worker died)."""
    from provisioning.provisioning import stuck_requests_sweep

    return len(stuck_requests_sweep())


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
    base=SweptTask,
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


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def sweep_stuck_offboardings() -> int:
    """Beat, with the request sweeper: re-enqueue teardowns whose task was lost (the broker
    was down when HR confirmed) or whose worker died and was not redelivered."""
    from provisioning.offboarding import stuck_offboardings_sweep

    return len(stuck_offboardings_sweep())
