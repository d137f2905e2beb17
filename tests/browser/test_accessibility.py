"""A representative page of each role passes axe-core (no serious or critical violation) and
fits a 390 px phone without scrolling sideways; a failed submit puts focus on a summary of the
errors, each linked to its field. `make e2e` walks every page of the journeys the same way."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accessibility import PHONE, WIDTHS, page_problems
from tests.factories import AccessRequestFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_pages_of_every_role_pass_axe_and_fit_a_phone(
    chromium: Any, live_server: Any, signed_in: Any, people: dict, width: int
) -> None:
    AccessRequestFactory(requester=people["employee"])
    problems: list[str] = []

    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    problems += page_problems(page, "login")
    context.close()

    visits = {
        "employee": ["/", "/access/", "/access/request/"],
        "manager": ["/access/approvals/"],
        "hr": ["/people/"],
        "security": ["/access/operations/"],
        "auditor": ["/audit/"],
    }
    for who, paths in visits.items():
        page = signed_in(people[who], width=width)
        for path in paths:
            page.goto(page.base_url + path)
            problems += page_problems(page, path)
    page = signed_in(people["employee"], width=width)
    page.goto(page.base_url + "/access/request/")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    problems += page_problems(page, "request form with errors")
    assert not problems, "\n".join(problems)


def test_a_failed_submit_focuses_a_summary_linking_each_error_to_its_field(
    signed_in: Any, employee: Any
) -> None:
    page = signed_in(employee, width=PHONE)
    page.goto(page.base_url + "/access/request/")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    summary = page.locator(".error-summary")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    first = summary.locator("a").first
    target = first.get_attribute("href")
    first.click()
    assert page.evaluate("'#' + document.activeElement.id") == target
