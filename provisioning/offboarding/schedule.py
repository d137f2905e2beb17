"""Offboarding on a last working day: HR schedules it, may cancel it, and beat does the rest.

The day before the last working day (from midnight in TIME_ZONE) HR is reminded, once. At
the end of the last working day (midnight in TIME_ZONE, so the person works the whole day)
beat starts it through `offboarding_start`, with the HR person who scheduled it as the actor:
one path for the event, so a privileged leaver still waits for a security admin's
confirmation, and everything `offboarding_start` refuses is refused then too (HR is told).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from accounts.selectors import is_current
from provisioning.errors import OffboardingError, OffboardingNotAllowed
from provisioning.models import Offboarding, OffboardingSchedule
from provisioning.offboarding import notifications
from provisioning.offboarding.selectors import UNFINISHED_STATUSES
from provisioning.offboarding.start import (
    is_last_security_admin,
    is_privileged_leaver,
    offboarding_start,
)

# A date further out than this is more likely a typo (2205) than a plan.
MAX_DAYS_AHEAD = 366

Status = OffboardingSchedule.Status


def runs_at(last_working_day: date) -> datetime:
    """When the offboarding starts: the end of the last working day, in TIME_ZONE."""
    return timezone.make_aware(datetime.combine(last_working_day + timedelta(days=1), time.min))


def _require_offboarder(actor: User) -> None:
    if not (actor.is_active and actor.has_perm(roles.OFFBOARD_PEOPLE)):
        raise OffboardingNotAllowed("Only HR can schedule an offboarding.")


def offboarding_schedule(
    *,
    actor: User,
    person: User,
    last_working_day: date,
    mode: str = Offboarding.Mode.DELETE,
    ip: str | None = None,
) -> OffboardingSchedule:
    """Schedule the offboarding of `person` at the end of `last_working_day` (today or later).

    Steps: check the actor is HR and not the leaver, the mode and the date; lock the person;
    refuse a leaver, an unfinished offboarding or another schedule of theirs, and the last
    security admin; record it with `offboarding.scheduled`."""
    _require_offboarder(actor)
    if actor.pk == person.pk:
        raise OffboardingNotAllowed("You cannot offboard yourself: ask another HR person.")
    if mode not in Offboarding.Mode.values:
        raise OffboardingError(f"Unknown offboarding mode {mode!r}.")
    today = timezone.localdate()
    if last_working_day < today:
        raise OffboardingError("The last working day cannot be in the past: offboard them now.")
    if last_working_day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise OffboardingError(f"Choose a last working day within {MAX_DAYS_AHEAD} days.")
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=person.pk)
        if not is_current(person):
            raise OffboardingError(f"{person} has already left: offboard them now instead.")
        if Offboarding.objects.filter(person=person, status__in=UNFINISHED_STATUSES).exists():
            raise OffboardingError(f"{person} is already being offboarded.")
        existing = OffboardingSchedule.objects.filter(person=person, status=Status.SCHEDULED)
        if existing.exists():
            raise OffboardingError(
                f"{person}'s offboarding is already scheduled for "
                f"{existing.get().last_working_day:%Y-%m-%d}: cancel it first to change it."
            )
        if is_last_security_admin(person):
            raise OffboardingNotAllowed(
                f"{person} is the last active security admin: make someone else a security "
                "admin first."
            )
        schedule = OffboardingSchedule.objects.create(
            person=person, scheduled_by=actor, last_working_day=last_working_day, mode=mode
        )
        audit.record(
            "offboarding.scheduled",
            actor=actor,
            target=schedule.audit_target,
            data={
                "email": person.email,
                "last_working_day": last_working_day.isoformat(),
                "runs_at": runs_at(last_working_day),
                "mode": mode,
                "needs_confirmation": is_privileged_leaver(person),
            },
            ip=ip,
        )
    return schedule


def offboarding_schedule_cancel(
    *, actor: User, schedule_id: int, ip: str | None = None
) -> OffboardingSchedule:
    """HR cancels a scheduled offboarding that has not started (a conditional UPDATE: of a
    cancel and beat's start, exactly one wins)."""
    _require_offboarder(actor)
    with transaction.atomic():
        cancelled = OffboardingSchedule.objects.filter(
            pk=schedule_id, status=Status.SCHEDULED
        ).update(status=Status.CANCELLED, cancelled_by=actor, cancelled_at=timezone.now())
        schedule = OffboardingSchedule.objects.select_related("person").filter(pk=schedule_id)
        found = schedule.first()
        if found is None:
            raise OffboardingError(f"There is no scheduled offboarding #{schedule_id}.")
        if cancelled != 1:
            raise OffboardingError(
                f"This offboarding is {found.get_status_display().lower()}: it cannot be "
                "cancelled any more."
            )
        audit.record(
            "offboarding.schedule_cancelled",
            actor=actor,
            target=found.audit_target,
            data={
                "email": found.person.email,
                "last_working_day": found.last_working_day.isoformat(),
            },
            ip=ip,
        )
    return found


def scheduled_offboardings_run(*, now: datetime | None = None) -> dict[str, int]:
    """Beat: remind HR of tomorrow's last working days (once each), then start the
    offboardings whose last working day has ended."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    reminded = 0
    due_reminders = OffboardingSchedule.objects.filter(
        status=Status.SCHEDULED,
        reminded_at__isnull=True,
        last_working_day__gte=today,
        last_working_day__lte=today + timedelta(days=1),
    )
    for pk in due_reminders.values_list("pk", flat=True):
        with transaction.atomic():
            claimed = OffboardingSchedule.objects.filter(
                pk=pk, status=Status.SCHEDULED, reminded_at__isnull=True
            ).update(reminded_at=now)
            if claimed != 1:
                continue
            schedule = OffboardingSchedule.objects.select_related("person", "scheduled_by").get(
                pk=pk
            )
            audit.record(
                "offboarding.schedule_reminded",
                target=schedule.audit_target,
                data={
                    "email": schedule.person.email,
                    "last_working_day": schedule.last_working_day.isoformat(),
                },
            )
            reminder = functools.partial(
                notifications.schedule_reminder,
                schedule,
                privileged=is_privileged_leaver(schedule.person),
            )
            transaction.on_commit(reminder, robust=True)
        reminded += 1
    started = failed = 0
    due = OffboardingSchedule.objects.filter(status=Status.SCHEDULED, last_working_day__lt=today)
    for pk in due.values_list("pk", flat=True):
        outcome = _start(pk, now=now)
        started += outcome == Status.STARTED
        failed += outcome == Status.FAILED
    return {"reminded": reminded, "started": started, "failed": failed}


def _start(pk: int, *, now: datetime) -> str | None:
    with transaction.atomic():
        claimed = OffboardingSchedule.objects.filter(pk=pk, status=Status.SCHEDULED).update(
            status=Status.STARTED, started_at=now
        )
        if claimed != 1:
            return None
        schedule = OffboardingSchedule.objects.select_related("person", "scheduled_by").get(pk=pk)
        try:
            if not is_current(schedule.person):
                raise OffboardingError(f"{schedule.person} had already been offboarded.")
            offboarding = offboarding_start(
                actor=schedule.scheduled_by, person=schedule.person, mode=schedule.mode
            )
        except OffboardingError as error:
            schedule.status = Status.FAILED
            schedule.failure_reason = str(error)
            schedule.save(update_fields=["status", "failure_reason"])
            audit.record(
                "offboarding.schedule_failed",
                target=schedule.audit_target,
                data={"email": schedule.person.email, "reason": str(error)},
            )
            transaction.on_commit(lambda: notifications.schedule_failed(schedule), robust=True)
            return Status.FAILED
        schedule.offboarding = offboarding
        schedule.save(update_fields=["offboarding"])
    return Status.STARTED
