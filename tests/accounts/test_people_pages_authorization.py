"""Every people page: anonymous people are sent to sign in, only HR gets in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

PAGES = ["people_directory", "people_import", "person_detail", "person_edit"]
ROLES_REFUSED = ["employee", "manager", "security", "auditor"]


def _url(name: str, person: Any) -> str:
    if name in {"person_detail", "person_edit"}:
        return reverse(name, args=[person.pk])
    return reverse(name)


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(client: Client, employee: Any, page: str) -> None:
    url = _url(page, employee)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ROLES_REFUSED)
def test_people_pages_are_refused_to_everyone_but_hr(
    client: Client, people: dict, page: str, role: str
) -> None:
    client.force_login(people[role])
    assert client.get(_url(page, people["employee"])).status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_hr_opens_every_people_page(client: Client, people: dict, page: str) -> None:
    client.force_login(people["hr"])
    assert client.get(_url(page, people["employee"])).status_code == 200


@pytest.mark.parametrize("role", ROLES_REFUSED)
def test_only_hr_can_post_an_edit_or_an_import(client: Client, people: dict, role: str) -> None:
    client.force_login(people[role])
    edit = reverse("person_edit", args=[people["employee"].pk])
    response = client.post(edit, {"department": "Sales", "manager": ""})
    assert response.status_code == 403
    people["employee"].refresh_from_db()
    assert people["employee"].department == "Engineering"
    assert client.post(reverse("people_import"), {}).status_code == 403


def test_edit_and_import_refuse_a_post_without_csrf_token(people: dict) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["hr"])
    employee = people["employee"]
    response = client.post(
        reverse("person_edit", args=[employee.pk]), {"department": "Sales", "manager": ""}
    )
    assert response.status_code == 403
    employee.refresh_from_db()
    assert employee.department == "Engineering"
    assert client.post(reverse("people_import"), {}).status_code == 403
