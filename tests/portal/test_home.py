"""Each person's home page: a figure for every role they have, each linking to where the work is
done, in a constant number of queries; and the approvals count beside "Approvals" everywhere."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from provisioning.models import AccessRequest, Offboarding
from tests.factories import AccessRequestFactory, OffboardingFactory, UserFactory, issued_link

pytestmark = pytest.mark.django_db

HOME = reverse("home")


def _figure(page: str, label: str) -> int:
    match = re.search(
        r'<span class="count-figure">(\d+)</span>\s*<span class="count-label">' + re.escape(label),
        page,
    )
    assert match, f"no figure {label!r} on the page"
    return int(match.group(1))


def _home(client: Client, person: Any) -> str:
    client.force_login(person)
    response = client.get(HOME)
    assert response.status_code == 200
    return response.content.decode()


def test_an_employee_sees_their_open_requests_and_credentials_waiting(
    client: Client, employee: Any
) -> None:
    AccessRequestFactory.create_batch(2, requester=employee)
    AccessRequestFactory(requester=employee, status=AccessRequest.Status.REJECTED)
    AccessRequestFactory()  # someone else's
    issued_link(employee)
    page = _home(client, employee)
    assert _figure(page, "My open requests") == 2
    assert _figure(page, "Credentials waiting for me") == 1
    assert "Approvals waiting for me" not in page
    assert "Offboardings in progress" not in page
    assert "Provisioning needing attention" not in page


def test_a_manager_sees_the_approvals_waiting_for_them_here_and_in_the_nav(
    client: Client, manager: Any
) -> None:
    for _ in range(3):
        AccessRequestFactory(requester=UserFactory(manager=manager))
    AccessRequestFactory()  # another manager's report
    with CaptureQueriesContext(connection) as queries:
        page = _home(client, manager)
    assert _figure(page, "Approvals waiting for me") == 3
    nav = f'href="{reverse("approvals")}">Approvals <span class="nav-count">3<'
    assert nav in page
    # The figure and the nav's count are one count.
    counts = [q["sql"] for q in queries if "COUNT" in q["sql"] and "first_approver" in q["sql"]]
    assert len(counts) == 1


def test_hr_sees_the_offboardings_in_progress(client: Client, hr_person: Any) -> None:
    OffboardingFactory.create_batch(2, status=Offboarding.Status.PENDING)
    OffboardingFactory(status=Offboarding.Status.COMPLETED)
    page = _home(client, hr_person)
    assert _figure(page, "Offboardings in progress") == 2
    assert "Approvals waiting for me" not in page


def test_security_sees_failed_provisioning(client: Client, security_admin: Any) -> None:
    AccessRequestFactory(status=AccessRequest.Status.FAILED)
    page = _home(client, security_admin)
    assert _figure(page, "Provisioning needing attention") == 1


@pytest.mark.parametrize("size", [1, 15])
def test_the_home_page_runs_in_constant_queries(
    client: Client, security_admin: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    for _ in range(size):
        AccessRequestFactory(requester=UserFactory(manager=security_admin))
        AccessRequestFactory(status=AccessRequest.Status.FAILED)
        OffboardingFactory(status=Offboarding.Status.PENDING)
    client.force_login(security_admin)
    with django_assert_max_num_queries(14):
        assert client.get(HOME).status_code == 200
