from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory


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


def test_unknown_person_is_not_found(hr_client: Client) -> None:
    assert hr_client.get(reverse("person_detail", args=[999_999])).status_code == 404


def test_person_page_loads_the_access_and_offboard_panel_from_provisioning(
    hr_client: Client, employee: Any
) -> None:
    page = hr_client.get(reverse("person_detail", args=[employee.pk])).content.decode()
    panel = reverse("person_access", args=[employee.pk])
    # Loaded by htmx when the page opens; a plain link to the same panel without JavaScript.
    assert f'hx-get="{panel}"' in page
    assert f'href="{panel}"' in page


@pytest.mark.parametrize("size", [1, 500])
def test_person_page_uses_the_same_number_of_queries_for_1_or_500_people(
    hr_client: Client, django_assert_max_num_queries: Any, size: int
) -> None:
    boss = UserFactory(email="boss@example.com", full_name="Bea Boss")
    User.objects.bulk_create(
        User(email=f"report{n:04}@example.com", full_name=f"Report {n:04}", manager=boss)
        for n in range(size)
    )
    with django_assert_max_num_queries(10):
        response = hr_client.get(reverse("person_detail", args=[boss.pk]))
    assert response.status_code == 200
    assert len(response.context["reports"]) == size
