"""HR schedules an offboarding for a last working day: reminded the day before, started at
its end (midnight in TIME_ZONE) through the same start as "now", cancellable until then."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.models import User
from audit.models import AuditEvent
from provisioning.models import Offboarding, OffboardingSchedule
from provisioning.offboarding.schedule import scheduled_offboardings_run
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ZONE = "Europe/Paris"
LAST_DAY = date(2031, 3, 14)  # a Friday


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(ZONE))


@pytest.fixture(autouse=True)
def _zone(settings: Any) -> None:
    settings.TIME_ZONE = ZONE


def _schedule(actor: User, person: User, day: str = LAST_DAY.isoformat()) -> Any:
    # Signed in at the travelled-to time: a privileged session idles out otherwise.
    client = Client()
    client.force_login(actor)
    return client.post(
        reverse("offboard_person", args=[person.pk]),
        {"mode": "delete", "when": "scheduled", "last_working_day": day},
    )


def _run(when: str, capture: Any) -> dict[str, int]:
    with time_machine.travel(_at(when), tick=False), capture(execute=True):
        return scheduled_offboardings_run()


def test_hr_is_reminded_once_the_day_before_and_it_starts_when_the_day_ends(
    hr_person: User, employee: User, django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(_at("2031-03-10 10:00"), tick=False):
        response = _schedule(hr_person, employee)
    assert response.status_code == 302
    schedule = OffboardingSchedule.objects.get(person=employee)
    assert AuditEvent.objects.filter(action="offboarding.scheduled").count() == 1
    employee.refresh_from_db()
    assert employee.is_active

    assert _run("2031-03-12 23:59", django_capture_on_commit_callbacks)["reminded"] == 0
    assert not mail.outbox
    assert _run("2031-03-13 00:05", django_capture_on_commit_callbacks)["reminded"] == 1
    (reminder,) = mail.outbox
    assert hr_person.email in reminder.to
    assert "Tomorrow is" in reminder.subject
    assert _run("2031-03-13 09:00", django_capture_on_commit_callbacks)["reminded"] == 0
    assert _run("2031-03-14 09:00", django_capture_on_commit_callbacks) == {
        "reminded": 0,
        "started": 0,
        "failed": 0,
    }
    assert len(mail.outbox) == 1

    assert _run("2031-03-14 23:59", django_capture_on_commit_callbacks)["started"] == 0
    employee.refresh_from_db()
    assert employee.is_active and not Offboarding.objects.exists()

    assert _run("2031-03-15 00:00", django_capture_on_commit_callbacks)["started"] == 1
    employee.refresh_from_db()
    assert not employee.is_active
    offboarding = Offboarding.objects.get(person=employee)
    assert offboarding.started_by == hr_person
    schedule.refresh_from_db()
    assert schedule.status == OffboardingSchedule.Status.STARTED
    assert schedule.offboarding == offboarding
    assert AuditEvent.objects.filter(action="offboarding.started").count() == 1
    assert _run("2031-03-15 00:10", django_capture_on_commit_callbacks)["started"] == 0
    assert Offboarding.objects.count() == 1


def test_a_cancelled_schedule_never_reminds_nor_starts(
    hr_person: User, employee: User, django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(_at("2031-03-10 10:00"), tick=False):
        _schedule(hr_person, employee)
        hr_client = Client()
        hr_client.force_login(hr_person)
        page = hr_client.get(reverse("person_access", args=[employee.pk])).content.decode()
        assert "Scheduled:" in page
        assert "Cancel the scheduled offboarding" in page
        schedule = OffboardingSchedule.objects.get(person=employee)
        response = hr_client.post(reverse("offboarding_schedule_cancel", args=[schedule.pk]))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="offboarding.schedule_cancelled").count() == 1
    _run("2031-03-13 08:00", django_capture_on_commit_callbacks)
    _run("2031-03-15 08:00", django_capture_on_commit_callbacks)
    assert not mail.outbox
    assert not Offboarding.objects.exists()
    employee.refresh_from_db()
    assert employee.is_active


def test_a_scheduled_privileged_leaver_still_waits_for_a_security_admin(
    hr_person: User, security_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    auditor = UserFactory(email="aud@example.com", roles=[roles.AUDITORS])
    with time_machine.travel(_at("2031-03-10 10:00"), tick=False):
        _schedule(hr_person, auditor)
    _run("2031-03-15 00:30", django_capture_on_commit_callbacks)
    offboarding = Offboarding.objects.get(person=auditor)
    assert offboarding.status == Offboarding.Status.AWAITING_CONFIRMATION
    auditor.refresh_from_db()
    assert auditor.is_active
    assert any(security_admin.email in message.to for message in mail.outbox)


def test_a_last_working_day_in_the_past_is_refused_with_a_clear_message(
    hr_person: User, employee: User, aws: None
) -> None:
    with time_machine.travel(_at("2031-03-10 10:00"), tick=False):
        response = _schedule(hr_person, employee, "2031-03-09")
    assert response.status_code == 200
    assert "cannot be in the past" in response.content.decode()
    assert not OffboardingSchedule.objects.exists()


def test_only_hr_can_schedule_or_cancel(
    people: dict[str, User], hr_person: User, aws: None
) -> None:
    target = UserFactory(email="target@example.com")
    with time_machine.travel(_at("2031-03-10 10:00"), tick=False):
        _schedule(hr_person, target)
    schedule = OffboardingSchedule.objects.get()
    for role in ("employee", "manager", "security", "auditor"):
        with time_machine.travel(_at("2031-03-10 11:00"), tick=False):
            other = Client()
            other.force_login(people[role])
            assert _schedule(people[role], people["employee"]).status_code == 403
            cancel = other.post(reverse("offboarding_schedule_cancel", args=[schedule.pk]))
        assert cancel.status_code == 403
    schedule.refresh_from_db()
    assert schedule.status == OffboardingSchedule.Status.SCHEDULED
