from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from provisioning.models import Grant, IamAccount, RoleGroup
from tests.factories import UserFactory


@pytest.fixture
def hr_client(client: Client, hr_person: Any) -> Client:
    client.force_login(hr_person)
    return client


def _give_access(person: User) -> IamAccount:
    account = IamAccount.objects.create(owner=person, user_name=f"{person.pk}-iam")
    Grant.objects.create(iam_account=account, role_group=RoleGroup.objects.get(name="Developers"))
    Grant.objects.create(
        iam_account=account,
        role_group=RoleGroup.objects.get(name="Analysts"),
        revoked_at=timezone.now(),
    )
    return account


def test_person_page_shows_manager_department_status_and_reports(
    hr_client: Client, manager: Any, employee: Any
) -> None:
    page = hr_client.get(reverse("person_detail", args=[manager.pk])).content.decode()
    assert "manager@example.com" in page
    assert "Engineering" in page
    assert "Active" in page
    assert "Erin Employee" in page
    assert reverse("person_detail", args=[employee.pk]) in page
    employee_page = hr_client.get(reverse("person_detail", args=[employee.pk])).content.decode()
    assert "Morgan Manager" in employee_page
    assert "No one reports to Erin Employee" in employee_page


def test_person_page_shows_iam_accounts_with_live_role_groups_only(
    hr_client: Client, employee: Any
) -> None:
    account = _give_access(employee)
    response = hr_client.get(reverse("person_detail", args=[employee.pk]))
    [shown] = response.context["iam_accounts"]
    assert shown.user_name == account.user_name
    assert [grant.role_group.name for grant in shown.live_grants] == ["Developers"]
    page = response.content.decode()
    assert account.user_name in page
    assert "Developers" in page
    assert "Analysts" not in page


def test_person_without_access_says_so(hr_client: Client, employee: Any) -> None:
    page = hr_client.get(reverse("person_detail", args=[employee.pk])).content.decode()
    assert "has no IAM accounts" in page


def test_unknown_person_is_not_found(hr_client: Client) -> None:
    assert hr_client.get(reverse("person_detail", args=[999_999])).status_code == 404


def test_person_page_has_the_slot_for_the_offboard_panel() -> None:
    from pathlib import Path

    from django.conf import settings

    template = Path(settings.BASE_DIR, "templates/accounts/person_detail.html").read_text()
    slot = '{% include "provisioning/offboarding/_person_panel.html" with person=person %}'
    assert template.count(slot) == 1


@pytest.mark.parametrize("size", [1, 500])
def test_person_page_uses_the_same_number_of_queries_for_1_or_500_people(
    hr_client: Client, django_assert_max_num_queries: Any, size: int
) -> None:
    boss = UserFactory(email="boss@example.com", full_name="Bea Boss")
    _give_access(boss)
    User.objects.bulk_create(
        User(email=f"report{n:04}@example.com", full_name=f"Report {n:04}", manager=boss)
        for n in range(size)
    )
    # 10 today; the Offboard panel included from provisioning may add a few, never per person.
    with django_assert_max_num_queries(15):
        response = hr_client.get(reverse("person_detail", args=[boss.pk]))
    assert response.status_code == 200
    assert len(response.context["reports"]) == size
