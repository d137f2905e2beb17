"""Past offboardings, for HR and auditors: newest first, searchable, each with its report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from provisioning.models import Offboarding
from tests.factories import OffboardingFactory, UserFactory

pytestmark = pytest.mark.django_db


def _finished(name: str, days_ago: int, started_by: User) -> Offboarding:
    person = UserFactory(full_name=name, email=f"{name.split()[0].lower()}@example.com")
    return OffboardingFactory(
        person=person,
        started_by=started_by,
        status=Offboarding.Status.COMPLETED,
        finished_at=timezone.now() - timedelta(days=days_ago),
    )


def test_hr_sees_finished_offboardings_newest_first_with_their_reports(
    hr_client: Client, hr_person: User
) -> None:
    older = _finished("Olga Older", 5, hr_person)
    newer = _finished("Nico Newer", 1, hr_person)
    OffboardingFactory(status=Offboarding.Status.IN_PROGRESS, started_by=hr_person)
    page = hr_client.get(reverse("offboardings")).content.decode()
    assert page.index("Nico Newer") < page.index("Olga Older")
    assert reverse("offboarding_detail", args=[newer.pk]) in page
    assert reverse("offboarding_detail", args=[older.pk]) in page
    assert "2 offboardings" in page


def test_the_search_finds_a_leaver_by_name_or_email(hr_client: Client, hr_person: User) -> None:
    _finished("Olga Older", 5, hr_person)
    _finished("Nico Newer", 1, hr_person)
    page = hr_client.get(reverse("offboardings"), {"q": "olga@"}).content.decode()
    assert "Olga Older" in page and "Nico Newer" not in page
    empty = hr_client.get(reverse("offboardings"), {"q": "zzz"}).content.decode()
    assert "No past offboarding matches" in empty


def test_the_empty_state_says_no_one_has_been_offboarded(hr_client: Client) -> None:
    page = hr_client.get(reverse("offboardings")).content.decode()
    assert "No one has been offboarded yet." in page
    assert "No offboarding is scheduled." in page


def test_the_list_costs_the_same_queries_whatever_its_size(
    hr_client: Client, hr_person: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(60):
        _finished(f"Leaver{n} Person", n, hr_person)
    with django_assert_max_num_queries(10):
        response = hr_client.get(reverse("offboardings"))
    assert response.status_code == 200
    assert "Page 1 of 2" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [("employee", 403), ("manager", 403), ("hr", 200), ("security", 200), ("auditor", 200)],
)
def test_who_may_see_past_offboardings(
    client: Client, people: dict[str, User], role: str, status: int
) -> None:
    client.force_login(people[role])
    assert client.get(reverse("offboardings")).status_code == status


def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(reverse("offboardings"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
