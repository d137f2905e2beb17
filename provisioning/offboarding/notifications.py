"""The emails of a privileged person's offboarding: a security admin must confirm it, and
HR hears if one declines. (The report's emails are in `report.py`.)"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from accounts.selectors import hr_emails, security_admins
from common.emails import send_templated_email
from provisioning.models import Offboarding, OffboardingSchedule


def _url(offboarding: Offboarding) -> str:
    return f"{settings.PORTAL_BASE_URL}{reverse('offboarding_detail', args=[offboarding.pk])}"


def confirmation_needed(offboarding: Offboarding) -> None:
    """To every security admin who may confirm: not the leaver, not the HR person asking."""
    excluded = {offboarding.person_id, offboarding.started_by_id}
    send_templated_email(
        "offboarding_confirmation_needed",
        [admin.email for admin in security_admins() if admin.pk not in excluded],
        {"offboarding": offboarding, "person": offboarding.person, "url": _url(offboarding)},
    )


def declined(offboarding: Offboarding) -> None:
    """To the HR person who asked (to HR, when the identity provider did)."""
    send_templated_email(
        "offboarding_declined",
        [offboarding.started_by.email] if offboarding.started_by else hr_emails(),
        {"offboarding": offboarding, "person": offboarding.person, "url": _url(offboarding)},
    )


def _hr_except_leaver(schedule: OffboardingSchedule) -> list[str]:
    return [email for email in hr_emails() if email != schedule.person.email]


def schedule_reminder(schedule: OffboardingSchedule, *, privileged: bool) -> None:
    """To HR, the day before the last working day: it starts at the end of tomorrow."""
    send_templated_email(
        "offboarding_schedule_reminder",
        _hr_except_leaver(schedule),
        {
            "schedule": schedule,
            "person": schedule.person,
            "privileged": privileged,
            "url": f"{settings.PORTAL_BASE_URL}{reverse('offboardings')}",
        },
    )


def schedule_failed(schedule: OffboardingSchedule) -> None:
    """To HR: the scheduled offboarding could not start, and why."""
    send_templated_email(
        "offboarding_schedule_failed",
        _hr_except_leaver(schedule),
        {
            "schedule": schedule,
            "person": schedule.person,
            "url": settings.PORTAL_BASE_URL + reverse("person_detail", args=[schedule.person_id]),
        },
    )
