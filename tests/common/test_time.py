"""One date-time format everywhere, in the portal's time zone and saying which: pages, emails
and form errors alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.template import engines
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common import time

MOMENT = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)


def test_a_moment_is_shown_in_the_portal_time_zone_and_says_which(settings: Any) -> None:
    assert time.when(MOMENT) == "2 Dec 2026, 14:05 UTC"
    settings.TIME_ZONE = "Europe/Berlin"
    timezone.deactivate()
    assert time.when(MOMENT) == "2 Dec 2026, 15:05 CET"
    assert time.day(datetime(2026, 12, 2, 23, 30, tzinfo=UTC)) == "3 Dec 2026"


@pytest.mark.parametrize(
    "since, shown",
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=47), "47 h"),
        (timedelta(days=2), "2 days"),
    ],
)
def test_waiting_time_is_in_the_largest_unit_that_fits(since: timedelta, shown: str) -> None:
    assert time.waited(MOMENT - since, MOMENT) == shown
    assert time.ago(MOMENT - since, MOMENT) == (shown if shown == "just now" else f"{shown} ago")


def test_templates_have_the_same_filters_without_loading_them() -> None:
    template = engines["django"].from_string(
        "{{ m|when }}/{{ d|day }}/{{ then|waited:m }}/{{ then|ago:m }}"
    )
    context = {"m": MOMENT, "d": date(2026, 1, 9), "then": MOMENT - timedelta(hours=3)}
    assert template.render(context) == "2 Dec 2026, 14:05 UTC/9 Jan 2026/3 h/3 h ago"


@pytest.mark.django_db
def test_every_page_says_which_time_zone_its_times_are_in(
    client: Client, employee: Any, settings: Any
) -> None:
    settings.TIME_ZONE = "America/New_York"
    timezone.deactivate()
    client.force_login(employee)
    assert (
        "Times are shown in America/New_York." in client.get(reverse("my_access")).content.decode()
    )


def test_no_template_formats_a_date_its_own_way() -> None:
    from pathlib import Path

    offenders = [
        str(path)
        for path in Path("templates").rglob("*.*")
        if any(f in path.read_text() for f in ("|date:", "|time:", "|timesince", "|naturaltime"))
    ]
    assert offenders == []
