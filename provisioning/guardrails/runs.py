"""The periodic jobs' runs: one row per job and period, claimed with a conditional UPDATE,
fenced by its attempt count, with the steps it has done recorded.

A daily job's row is made on the first beat of the day; later beats (or a second beat
process) find it done, or held by a live run, and do nothing. A run whose worker died is
claimed again once its lease lapses (PROVISIONING_LEASE_SECONDS after its last step), and
skips the steps it had recorded."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

import audit
from accounts.models import User
from provisioning.guardrails.models import GuardrailRun

Status = GuardrailRun.Status


class RunClaimLost(Exception):
    """Another run holds this one now: stop without writing."""


def _lease_start(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


def guardrail_run_for(
    *, job: str, period: str, requested_by: User | None = None
) -> tuple[GuardrailRun, bool]:
    """The run of `job` for `period`, made if there is none yet. Returns (run, created)."""
    existing = GuardrailRun.objects.filter(job=job, period=period).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            run = GuardrailRun.objects.create(job=job, period=period, requested_by=requested_by)
            audit.record(
                "guardrail.run.requested",
                actor=requested_by,
                target=run.audit_target,
                data={"job": job, "period": period},
            )
    except IntegrityError:
        # Another beat made it a moment ago.
        return GuardrailRun.objects.get(job=job, period=period), False
    return run, True


def guardrail_run_claim(run_id: int) -> GuardrailRun | None:
    """Take the run if it is waiting, or if its last holder's lease has lapsed."""
    now = timezone.now()
    claimable = Q(status=Status.PENDING) | Q(
        status=Status.RUNNING, updated_at__lt=_lease_start(now)
    )
    claimed = GuardrailRun.objects.filter(claimable, pk=run_id).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, updated_at=now
    )
    if claimed != 1:
        return None
    return GuardrailRun.objects.get(pk=run_id)


def _fenced(run: GuardrailRun) -> QuerySet[GuardrailRun]:
    return GuardrailRun.objects.filter(pk=run.pk, status=Status.RUNNING, attempts=run.attempts)


def run_record_step(run: GuardrailRun, step: str, **summary: Any) -> None:
    """Record a step (and what it counted) while this run holds the claim; renews the lease."""
    steps = [*run.steps_done, step]
    merged = {**run.summary, **summary}
    if _fenced(run).update(steps_done=steps, summary=merged, updated_at=timezone.now()) != 1:
        raise RunClaimLost
    run.steps_done = steps
    run.summary = merged


def run_finish(run: GuardrailRun) -> None:
    with transaction.atomic():
        if _fenced(run).update(status=Status.DONE, finished_at=timezone.now()) != 1:
            raise RunClaimLost
        audit.record(
            "guardrail.run.finished",
            target=run.audit_target,
            data={"job": run.job, "period": run.period, "summary": run.summary},
        )


def run_release(run: GuardrailRun, reason: str) -> None:
    """Give the claim back after a transient failure, for the task's retry."""
    _fenced(run).update(status=Status.PENDING, failure_reason=f"Waiting to retry: {reason}"[:2000])


def run_fail(run: GuardrailRun, reason: str) -> None:
    with transaction.atomic():
        if _fenced(run).update(status=Status.FAILED, failure_reason=reason[:2000]) != 1:
            raise RunClaimLost
        audit.record(
            "guardrail.run.failed",
            target=run.audit_target,
            data={"job": run.job, "period": run.period, "reason": reason[:500]},
        )


def today_period(now: datetime | None = None) -> str:
    return timezone.localdate(now or timezone.now()).isoformat()


def manual_period(now: datetime | None = None) -> str:
    return f"manual-{(now or timezone.now()).strftime('%Y%m%dT%H%M%S.%f')}"
