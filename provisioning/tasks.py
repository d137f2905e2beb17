"""Thin Celery tasks: they take ids, call a service, and turn its outcome into a retry.

Every task's time limits, retries and backoff come from settings. Services never import this
module: they enqueue through `provisioning.queue`, where the tasks register themselves below.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import transaction

from provisioning import aws, queue
from provisioning.credentials.expiry import uncollected_links_sweep
from provisioning.errors import OffboardingBusy
from provisioning.guardrails.jobs import GuardrailDeferred, guardrail_run_execute, guardrails_daily
from provisioning.guardrails.rotation import RotationDeferred, key_rotation_run
from provisioning.guardrails.rotation_finish import key_rotations_sweep
from provisioning.lifecycle.expiry import end_due_grants as lifecycle_sweep
from provisioning.lifecycle.removal import grant_removal_run
from provisioning.lifecycle.review_deadlines import (
    access_review_deadlines_apply,
    access_review_prepare,
    access_review_reminders_send,
)
from provisioning.offboarding.schedule import scheduled_offboardings_run
from provisioning.offboarding.sweep import stuck_offboardings_sweep
from provisioning.offboarding.teardown import offboarding_cut_access, offboarding_teardown
from provisioning.offboarding.verify import offboarding_give_up
from provisioning.onboarding.claims import ProvisioningDeferred
from provisioning.onboarding.run import access_request_provision, access_request_provision_crashed
from provisioning.onboarding.slow import slow_provisioning_notify
from provisioning.onboarding.sweep import stuck_requests_sweep
from provisioning.requests.digest import approval_digests_send
from provisioning.requests.reminders import approval_reminders_send

logger = logging.getLogger(__name__)


class SweptTask(DjangoTask):
    """`delay_on_commit` that never raises into the caller. By the time it runs the approval
    (or HR's offboarding) is committed; if the broker is down, the work stays where it is and
    a sweeper enqueues it once the broker is back. The person clicking sees no error."""

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]  # Celery's returns None as well; celery-types says AsyncResult
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


def _backoff(retries: int, *, base: int, maximum: int) -> int:
    return get_exponential_backoff_interval(
        factor=base, retries=retries, maximum=maximum, full_jitter=True
    )


# --- Onboarding -----------------------------------------------------------------------------


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
    """Provision an approved access request (provisioning/onboarding). Takes the id only:
    secrets never travel through the broker. Acks late and is re-delivered if its worker dies;
    the claim and the recorded steps make any re-delivery safe."""
    try:
        return access_request_provision(
            request_id=request_id,
            final_attempt=self.request.retries >= self.max_retries,
            interruptions=(SoftTimeLimitExceeded,),
        )
    except ProvisioningDeferred:
        countdown = _backoff(
            self.request.retries,
            base=settings.PROVISIONING_RETRY_BASE_SECONDS,
            maximum=settings.PROVISIONING_RETRY_MAX_SECONDS,
        )
        raise self.retry(countdown=countdown) from None
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
    return len(stuck_requests_sweep())


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def notify_slow_provisioning() -> int:
    """Beat, every PROVISIONING_SLOW_CHECK_SECONDS: tell the security admins, once, of each
    request approved over PROVISIONING_SLOW_SECONDS ago and not provisioned yet."""
    return len(slow_provisioning_notify())


# --- Credential links -----------------------------------------------------------------------


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def sweep_uncollected_links() -> int:
    """Beat, every CREDENTIAL_SWEEP_SECONDS: wipe expired, uncollected links and switch off
    their access keys."""
    return len(uncollected_links_sweep())


# --- Approval reminders ---------------------------------------------------------------------


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def send_approval_digests() -> int:
    """Hourly (beat): today's digest to approvers who chose one (once a day each)."""
    return len(approval_digests_send())


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def send_approval_reminders() -> int:
    """Hourly (beat): remind approvers of requests pending longer than APPROVAL_REMINDER_HOURS."""
    return approval_reminders_send()


# --- Offboarding ----------------------------------------------------------------------------


@shared_task(
    base=SweptTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.OFFBOARDING_SOFT_TIME_LIMIT,
    time_limit=settings.OFFBOARDING_TIME_LIMIT,
    max_retries=settings.OFFBOARDING_MAX_RETRIES,
)
def teardown_offboarding(self: Any, offboarding_id: int) -> None:
    """Tear down a leaver's IAM users and verify (provisioning/offboarding). Acks late: a
    worker killed mid-teardown leaves the message to be redelivered, and the recorded steps
    make the next run resume where it stopped."""
    try:
        offboarding_teardown(offboarding_id=offboarding_id)
    except OffboardingBusy:
        # Another worker is on it; look again later. Once it has finished this is a no-op.
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=settings.OFFBOARDING_BUSY_RETRY_SECONDS) from None
    except (aws.AwsError, SoftTimeLimitExceeded) as error:
        transient = isinstance(error, SoftTimeLimitExceeded) or error.transient
        if transient and self.request.retries < self.max_retries:
            countdown = _backoff(
                self.request.retries,
                base=settings.OFFBOARDING_RETRY_BASE_SECONDS,
                maximum=settings.OFFBOARDING_RETRY_MAX_SECONDS,
            )
            raise self.retry(countdown=countdown) from None
        offboarding_give_up(offboarding_id=offboarding_id, reason=str(error) or "timed out")
    except Exception as error:
        logger.exception("offboarding %s failed", offboarding_id)
        offboarding_give_up(
            offboarding_id=offboarding_id, reason=f"unexpected error ({type(error).__name__})"
        )


@shared_task(
    base=SweptTask,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.OFFBOARDING_SOFT_TIME_LIMIT,
    time_limit=settings.OFFBOARDING_TIME_LIMIT,
)
def cut_offboarding_access(offboarding_id: int) -> None:
    """Cut a leaver's console password and access keys, then enqueue the rest of the
    teardown (provisioning/offboarding). A lost one is found by the offboarding sweeper."""
    offboarding_cut_access(offboarding_id=offboarding_id)


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def sweep_stuck_offboardings() -> int:
    """Beat, with the request sweeper: re-enqueue teardowns whose task was lost (the broker
    was down when HR confirmed) or whose worker died and was not redelivered."""
    return len(stuck_offboardings_sweep())


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def run_scheduled_offboardings() -> dict[str, int]:
    """Beat: remind HR the day before a last working day; start the offboarding at its end."""
    return scheduled_offboardings_run()


# --- Access over time (provisioning/lifecycle) ----------------------------------------------


@shared_task(
    base=SweptTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=settings.LIFECYCLE_MAX_RETRIES,
)
def end_grants(self: Any, grant_ids: list[int]) -> dict[str, int]:
    """Remove ending grants from IAM, one after another (provisioning/lifecycle/removal).
    Acks late: a worker killed mid-removal leaves the message to be redelivered, and the
    recorded steps make the next run resume (grants already ended are skipped). A transient
    error retries the grants not done yet; after the retries the lifecycle sweep enqueues
    them again later."""
    outcomes: dict[str, int] = {}
    remaining = list(grant_ids)
    while remaining:
        try:
            outcome = grant_removal_run(grant_id=remaining[0])
        except (aws.AwsError, SoftTimeLimitExceeded) as error:
            transient = isinstance(error, SoftTimeLimitExceeded) or error.transient
            if transient and self.request.retries < self.max_retries:
                countdown = _backoff(
                    self.request.retries,
                    base=settings.LIFECYCLE_RETRY_BASE_SECONDS,
                    maximum=settings.LIFECYCLE_RETRY_MAX_SECONDS,
                )
                raise self.retry(args=[remaining], countdown=countdown) from None
            logger.warning("Grant %s: removal deferred to the sweep (%s)", remaining[0], error)
            outcome = "deferred"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        remaining.pop(0)
    return outcomes


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def end_due_grants() -> int:
    """Beat, every LIFECYCLE_SWEEP_SECONDS: expire grants past their end, warn before, and
    re-enqueue removals whose task was lost."""
    return len(lifecycle_sweep().expired)


@shared_task(
    base=SweptTask,
    bind=True,
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=settings.LIFECYCLE_MAX_RETRIES,
)
def start_access_review(self: Any, campaign_id: int) -> int:
    """A new campaign: email its reviewers, read its holders' last AWS activity."""
    try:
        return access_review_prepare(campaign_id=campaign_id)
    except aws.AwsError as error:
        if error.transient and self.request.retries < self.max_retries:
            countdown = _backoff(
                self.request.retries,
                base=settings.LIFECYCLE_RETRY_BASE_SECONDS,
                maximum=settings.LIFECYCLE_RETRY_MAX_SECONDS,
            )
            raise self.retry(countdown=countdown) from None
        # The review goes on without that evidence: the page says "not known".
        logger.warning("Access review %s: activity not read (%s)", campaign_id, error)
        return 0


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def apply_access_review_deadlines() -> int:
    """Beat, every REVIEW_SWEEP_SECONDS: remind reviewers, apply passed deadlines."""
    access_review_reminders_send()
    return len(access_review_deadlines_apply())


# --- Guardrails (provisioning/guardrails) ----------------------------------------------------


def _guardrail_backoff(retries: int) -> int:
    return _backoff(
        retries,
        base=settings.GUARDRAILS_RETRY_BASE_SECONDS,
        maximum=settings.GUARDRAILS_RETRY_MAX_SECONDS,
    )


@shared_task(
    base=SweptTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=settings.GUARDRAILS_MAX_RETRIES,
)
def rotate_access_key(self: Any, rotation_id: int) -> str:
    """Make a rotation's new key and email its one-time link (provisioning/guardrails). The id
    only: the secret never travels through the broker. Acks late; the claim and the recorded
    steps make a re-delivery after a SIGKILL safe."""
    try:
        return key_rotation_run(
            rotation_id=rotation_id, final_attempt=self.request.retries >= self.max_retries
        )
    except RotationDeferred:
        raise self.retry(countdown=_guardrail_backoff(self.request.retries)) from None


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def sweep_key_rotations() -> dict[str, int]:
    """Beat, every GUARDRAILS_ROTATION_SWEEP_SECONDS: finish rotations whose overlap is over or
    whose new key is in use; re-enqueue lost ones."""
    return key_rotations_sweep()


@shared_task(
    base=SweptTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=settings.GUARDRAILS_MAX_RETRIES,
)
def run_guardrail(self: Any, run_id: int) -> str:
    """One run of a guardrail job (key age, unused credentials, drift, compliance)."""
    try:
        return guardrail_run_execute(
            run_id=run_id, final_attempt=self.request.retries >= self.max_retries
        )
    except GuardrailDeferred:
        raise self.retry(countdown=_guardrail_backoff(self.request.retries)) from None


@shared_task(
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def run_daily_guardrails() -> int:
    """Beat, every GUARDRAILS_CHECK_SECONDS: today's runs exist and the waiting ones are queued."""
    return len(guardrails_daily())


queue.register(queue.PROVISION, provision_access_request)
queue.register(queue.TEARDOWN, teardown_offboarding)
queue.register(queue.CUT_ACCESS, cut_offboarding_access)
queue.register(queue.ROTATE_KEY, rotate_access_key)
queue.register(queue.GUARDRAIL_RUN, run_guardrail)
queue.register(queue.END_GRANTS, end_grants)
queue.register(queue.REVIEW_START, start_access_review)
