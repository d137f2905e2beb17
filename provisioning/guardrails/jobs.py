"""Running the guardrails' periodic jobs: the daily beat makes today's runs and enqueues them;
each run is claimed, does its steps (one per watched IAM user for the key-age and unused jobs),
and finishes. Transient AWS errors release the claim for the task's retry with backoff; the
steps already recorded are not done again."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from provisioning import aws, queue
from provisioning.errors import PortalError
from provisioning.guardrails.compliance import compliance_snapshot
from provisioning.guardrails.drift import drift_scan
from provisioning.guardrails.key_age import key_age_check_account
from provisioning.guardrails.models import GuardrailRun
from provisioning.guardrails.runs import (
    RunClaimLost,
    guardrail_run_claim,
    guardrail_run_for,
    manual_period,
    run_fail,
    run_finish,
    run_record_step,
    run_release,
    today_period,
)
from provisioning.guardrails.scope import watched_accounts
from provisioning.guardrails.unused import unused_check_account

logger = logging.getLogger(__name__)

Job = GuardrailRun.Job
DAILY_JOBS = (Job.KEY_AGE, Job.UNUSED, Job.DRIFT, Job.COMPLIANCE)
MANUAL_JOBS = (Job.DRIFT, Job.COMPLIANCE)


class GuardrailDeferred(Exception):
    """A transient failure: the run's claim was released; retry later."""


def _per_account(run: GuardrailRun, check: Callable[..., dict[str, int]], **extra: Any) -> None:
    now = timezone.now()
    totals: Counter[str] = Counter(run.summary)
    for account in watched_accounts():
        step = f"account:{account.pk}"
        if step in run.steps_done:
            continue
        totals.update(check(account=account, now=now, **extra))
        run_record_step(run, step, **totals)


def _unused(run: GuardrailRun) -> None:
    rows = {row.user: row for row in aws.credential_report()}
    now = timezone.now()
    totals: Counter[str] = Counter(run.summary)
    for account in watched_accounts():
        step = f"account:{account.pk}"
        if step in run.steps_done:
            continue
        totals.update(
            unused_check_account(account=account, report_row=rows.get(account.user_name), now=now)
        )
        run_record_step(run, step, **totals)


def _execute(run: GuardrailRun) -> None:
    if run.job == Job.KEY_AGE:
        _per_account(run, key_age_check_account)
    elif run.job == Job.UNUSED:
        _unused(run)
    elif run.job == Job.DRIFT:
        run_record_step(run, "scan", **drift_scan())
    elif run.job == Job.COMPLIANCE:
        snapshot = compliance_snapshot(run=run)
        run_record_step(run, "scored", passed=snapshot.passed, total=snapshot.total)


def guardrail_run_execute(*, run_id: int, final_attempt: bool = False) -> str:
    """Do one run. Returns "done", "failed" or "skipped" (not claimable: done, or held by a
    live run); raises GuardrailDeferred after a transient failure unless `final_attempt`."""
    run = guardrail_run_claim(run_id)
    if run is None:
        return "skipped"
    try:
        try:
            _execute(run)
        except aws.AwsError as error:
            if error.transient and not final_attempt:
                run_release(run, str(error))
                raise GuardrailDeferred(str(error)) from None
            run_fail(run, str(error))
            return "failed"
        run_finish(run)
    except RunClaimLost:
        logger.warning("Guardrail run %s: another run took over; this one stops.", run_id)
        return "skipped"
    return "done"


def guardrails_daily(
    *, now: datetime | None = None, enqueue: Callable[[int], Any] | None = None
) -> list[int]:
    """Beat: today's run of each daily job exists, and every one still waiting is enqueued
    (a run already done, or held by a live worker, is left alone). Returns the enqueued ids."""
    enqueue = enqueue or queue.guardrail_run_now
    period = today_period(now)
    enqueued = []
    for job in DAILY_JOBS:
        run, _ = guardrail_run_for(job=job, period=period)
        if run.status != GuardrailRun.Status.PENDING:
            continue
        try:
            enqueue(run.pk)
        except Exception:
            logger.warning("Could not enqueue guardrail run %s; the next beat retries.", run.pk)
            break
        enqueued.append(run.pk)
    return enqueued


def guardrail_run_request(*, actor: User, job: str) -> GuardrailRun:
    """A security admin's "Scan now" / "Check now": a run of its own, enqueued on commit."""
    if not actor.has_perm(roles.OPERATE_PROVISIONING):
        raise PortalError("Only security admins start a guardrail run.")
    if job not in MANUAL_JOBS:
        raise PortalError("That job cannot be started by hand.")
    with transaction.atomic():
        run, _ = guardrail_run_for(job=job, period=manual_period(), requested_by=actor)
        queue.guardrail_run_on_commit(run.pk)
    return run
