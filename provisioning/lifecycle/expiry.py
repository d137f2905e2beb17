"""Expiry, enforced by the worker: every grant past its end is ended, warnings go out before,
and removals whose task was lost are enqueued again. The beat job (`end_due_grants`) runs it
every LIFECYCLE_SWEEP_SECONDS; `manage.py access_expire` runs the same for an operator.

A grant to a date is held through that day and expires the day after; temporary access at its
exact end. Each is claimed with the conditional UPDATE of `grant_end_begin`, so two runs never
end one grant twice; the removal from IAM is the worker's (lifecycle/removal.py)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from provisioning import queue
from provisioning.lifecycle import notifications, selectors
from provisioning.lifecycle.ending import grant_end_begin
from provisioning.models import Grant

logger = logging.getLogger(__name__)

# Grants ended per transaction: short transactions keep the audit chain's lock brief.
BATCH = 100
# Grants removed per task: fewer tasks to hand out, while the workers still share the work.
REMOVALS_PER_TASK = 10
WEEK, DAY = 7, 1


def _reason(grant: Grant) -> str:
    if grant.ends_at is not None:
        return f"temporary access ended at {timezone.localtime(grant.ends_at):%d %b %Y, %H:%M}"
    return f"end date {grant.ends_on:%d %b %Y} passed"


def grants_expire(
    *, now: datetime | None = None, as_of: date | None = None, dry_run: bool = False
) -> list[Grant]:
    """End every grant past its end as of now (or the start of `as_of`). With `dry_run`,
    only say which. Returns the grants (that would be) ended."""
    due = list(selectors.grants_due(now=now, as_of=as_of))
    if dry_run:
        return due
    ended: list[Grant] = []
    for start in range(0, len(due), BATCH):
        with transaction.atomic():
            batch = []
            for grant in due[start : start + BATCH]:
                data = {"as_of": as_of} if as_of else {}
                if grant_end_begin(
                    grant,
                    end=Grant.End.EXPIRED,
                    actor=None,
                    reason=_reason(grant),
                    data=data,
                    enqueue=False,
                ):
                    batch.append(grant.pk)
            for chunk in _chunks(batch):
                queue.end_grants_on_commit(chunk)
        begun = set(batch)
        ended.extend(grant for grant in due[start : start + BATCH] if grant.pk in begun)
    return ended


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + REMOVALS_PER_TASK] for i in range(0, len(ids), REMOVALS_PER_TASK)]


def removals_sweep(*, now: datetime | None = None) -> list[int]:
    """Enqueue again the removals that have not moved for LIFECYCLE_STALE_SECONDS (their task
    was lost while the broker was down, or gave up after its retries)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.LIFECYCLE_STALE_SECONDS)
    enqueued: list[int] = []
    for chunk in _chunks(
        list(selectors.grants_ending_stale(cutoff=cutoff).values_list("pk", flat=True))
    ):
        try:
            queue.end_grants_now(chunk)
        except Exception:
            logger.warning("Could not enqueue the removal of grants %s", chunk, exc_info=True)
            break
        enqueued.extend(chunk)
    return enqueued


def _claim_warning(grant: Grant, field_name: str, now: datetime) -> bool:
    return (
        Grant.objects.filter(pk=grant.pk, end="", **{f"{field_name}__isnull": True}).update(
            **{field_name: now}
        )
        == 1
    )


def grant_expiry_warnings_send(*, now: datetime | None = None) -> int:
    """Warn holders of grants to a date ending within 7 days, and again within a day: once
    each (a conditional UPDATE of `warned_week_at` / `warned_day_at` claims each warning, and
    an extension clears them). One email per person. Returns how many grants were warned."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    by_person: dict[User, list[Grant]] = defaultdict(list)
    windows = (
        ("warned_day_at", selectors.grants_to_warn(today=today, within_days=DAY)),
        (
            "warned_week_at",
            selectors.grants_to_warn(today=today, within_days=WEEK, after_days=DAY).filter(
                warned_week_at__isnull=True, warned_day_at__isnull=True
            ),
        ),
    )
    for field_name, candidates in windows:
        for grant in candidates.filter(**{f"{field_name}__isnull": True}):
            if _claim_warning(grant, field_name, now):
                by_person[grant.iam_account.owner].append(grant)
    for person, warned in by_person.items():
        try:
            notifications.grants_expiring(person, warned, today=today)
        except Exception:
            # One unreachable mailbox must not keep the others from their warning.
            logger.exception("Could not warn %s of ending access", person.email)
    return sum(len(warned) for warned in by_person.values())


@dataclass
class SweepOutcome:
    expired: list[Grant] = field(default_factory=list)
    warned: int = 0
    re_enqueued: list[int] = field(default_factory=list)


def end_due_grants(*, now: datetime | None = None) -> SweepOutcome:
    """The beat job: expire what is due, warn what is near its end, re-enqueue lost removals."""
    return SweepOutcome(
        expired=grants_expire(now=now),
        warned=grant_expiry_warnings_send(now=now),
        re_enqueued=removals_sweep(now=now),
    )
