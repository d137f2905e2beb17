from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import EmploymentStatus, User
from accounts.selectors import PEOPLE_PER_PAGE, people_search
from tests.factories import UserFactory


def _bulk_people(count: int, *, manager: User | None = None) -> None:
    User.objects.bulk_create(
        User(
            email=f"bulk{n:04}@example.com",
            full_name=f"Bulk Person {n:04}",
            department="Operations",
            manager=manager,
        )
        for n in range(count)
    )


def test_directory_lists_people_with_their_manager_and_department(
    hr_client: Client, employee: Any
) -> None:
    response = hr_client.get(reverse("people_directory"))
    page = response.content.decode()
    assert "Erin Employee" in page
    assert "employee@example.com" in page
    assert "Morgan Manager" in page
    assert reverse("person_detail", args=[employee.pk]) in page


@pytest.mark.parametrize("query", ["erin", "EMPLOYEE@example", "finance", "erin fin"])
def test_search_finds_people_by_name_email_or_department(
    hr_client: Client, employee: Any, query: str
) -> None:
    employee.department = "Finance"
    employee.save()
    UserFactory(email="zed@example.com", full_name="Zed Other", department="Legal")
    page = hr_client.get(reverse("people_directory"), {"q": query}).content.decode()
    assert "Erin Employee" in page
    assert "Zed Other" not in page


def test_search_that_matches_no_one_says_so(hr_client: Client, employee: Any) -> None:
    page = hr_client.get(reverse("people_directory"), {"q": "nobody-like-this"}).content.decode()
    assert "No one matches your search" in page
    assert "Erin Employee" not in page


def test_status_filter_shows_only_people_who_left(hr_client: Client, employee: Any) -> None:
    UserFactory(full_name="Lee Leaver", employment_status=EmploymentStatus.LEFT, is_active=False)
    page = hr_client.get(reverse("people_directory"), {"status": "left"}).content.decode()
    assert "Lee Leaver" in page
    assert "Erin Employee" not in page


def test_directory_pages_fifty_people_at_a_time_and_keeps_the_search(
    hr_client: Client, hr_person: Any
) -> None:
    _bulk_people(120)
    first = hr_client.get(reverse("people_directory"), {"q": "bulk"})
    assert len(first.context["page_obj"].object_list) == 50
    assert "Page 1 of 3" in first.content.decode()
    assert "?q=bulk&amp;page=2" in first.content.decode()
    last = hr_client.get(reverse("people_directory"), {"q": "bulk", "page": 3})
    names = [person.full_name for person in last.context["page_obj"].object_list]
    assert names == [f"Bulk Person {n:04}" for n in range(100, 120)]


@pytest.mark.parametrize("size", [1, 500])
def test_directory_uses_the_same_number_of_queries_for_1_or_500_people(
    hr_client: Client, manager: Any, django_assert_max_num_queries: Any, size: int
) -> None:
    _bulk_people(size, manager=manager)
    # 7 today (session, user, permissions, nav, count, page); a little room for the shared
    # layout to grow, far below the 50 a query per row would add.
    with django_assert_max_num_queries(10):
        response = hr_client.get(reverse("people_directory"))
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == min(size + 2, 50)


@pytest.mark.parametrize("status", ["", "active"])
def test_the_directorys_first_page_is_read_off_its_index_not_sorted_from_everyone(
    postgres_required: None, manager: Any, status: str
) -> None:
    _bulk_people(2_000, manager=manager)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    plan = people_search(status=status)[:PEOPLE_PER_PAGE].explain()
    # Sorting every person for 50 of them grows with the company; the index does not.
    assert "user_directory_order" in plan
    assert "Sort" not in plan
