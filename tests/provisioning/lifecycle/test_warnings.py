"""Warnings before a grant ends: 7 days and 1 day before, once each, whatever how often the
beat job runs; an extension earns new ones; temporary access gets none."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from provisioning.lifecycle.expiry import grant_expiry_warnings_send
from provisioning.models import Grant
from tests.factories import GrantFactory, IamAccountFactory

pytestmark = pytest.mark.django_db


def _at(day: Any, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _warnings_to(address: str) -> list[Any]:
    return [m for m in mail.outbox if m.to == [address] and "ends soon" in m.subject]


def test_a_grant_is_warned_a_week_before_and_a_day_before_once_each(employee: Any) -> None:
    ends_on = timezone.localdate() + timedelta(days=30)
    grant = GrantFactory(iam_account=IamAccountFactory(owner=employee), ends_on=ends_on)
    sent_per_day = {}
    for days_before in range(10, -1, -1):
        day = ends_on - timedelta(days=days_before)
        before = len(_warnings_to(employee.email))
        # The beat job runs many times a day.
        for hour in (0, 9, 18, 23):
            with time_machine.travel(_at(day, hour)):
                grant_expiry_warnings_send()
        sent_per_day[days_before] = len(_warnings_to(employee.email)) - before

    assert {days: n for days, n in sent_per_day.items() if n} == {7: 1, 1: 1}
    week, day = _warnings_to(employee.email)
    assert "ends in 7 days" in week.body and f"/access/grants/{grant.pk}/extend/" in week.body
    assert "ends tomorrow" in day.body
    grant.refresh_from_db()
    assert grant.warned_week_at and grant.warned_day_at


def test_a_grant_given_only_a_few_days_gets_the_day_warning_and_no_late_week_one(
    employee: Any,
) -> None:
    ends_on = timezone.localdate() + timedelta(days=1)
    GrantFactory(iam_account=IamAccountFactory(owner=employee), ends_on=ends_on)

    assert grant_expiry_warnings_send() == 1
    assert grant_expiry_warnings_send() == 0

    (warning,) = _warnings_to(employee.email)
    assert "ends tomorrow" in warning.body


def test_one_email_lists_every_grant_of_a_person_ending_that_week(employee: Any) -> None:
    account = IamAccountFactory(owner=employee)
    soon = timezone.localdate() + timedelta(days=5)
    first = GrantFactory(iam_account=account, ends_on=soon)
    second = GrantFactory(iam_account=account, ends_on=soon + timedelta(days=1))

    assert grant_expiry_warnings_send() == 2

    (warning,) = _warnings_to(employee.email)
    assert first.role_group.name in warning.body and second.role_group.name in warning.body


def test_ending_revoked_and_temporary_grants_are_not_warned(employee: Any) -> None:
    account = IamAccountFactory(owner=employee)
    soon = timezone.localdate() + timedelta(days=1)
    GrantFactory(iam_account=account, ends_on=soon, end=Grant.End.REVOKED)
    GrantFactory(iam_account=account, ends_on=soon, revoked_at=timezone.now())
    GrantFactory(iam_account=account, ends_on=soon, ends_at=timezone.now() + timedelta(hours=3))

    assert grant_expiry_warnings_send() == 0
    assert _warnings_to(employee.email) == []
