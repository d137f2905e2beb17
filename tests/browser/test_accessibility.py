"""A representative page of each role passes axe-core (no serious or critical violation) and
fits a 390 px phone without scrolling sideways; a failed submit puts focus on a summary of the
errors, each linked to its field. `make e2e` walks every page of the journeys the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import audit
from tests.accessibility import PHONE, WIDTHS, page_problems
from tests.factories import AccessRequestFactory

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).parents[2] / "var" / "a11y-screenshots"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_pages_of_every_role_pass_axe_and_fit_a_phone(
    chromium: Any, live_server: Any, signed_in: Any, people: dict, width: int
) -> None:
    AccessRequestFactory(requester=people["employee"])
    # Long action names widen the audit filter's list of actions: it must still fit a phone.
    audit.record("iam.service_specific_credentials.deleted", target="iam_user:a.long.name")
    audit.record("offboarding.schedule_cancelled", target="offboarding:1")
    problems: list[str] = []

    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    problems += page_problems(page, "login", SCREENSHOTS)
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
            problems += page_problems(page, path, SCREENSHOTS)
    page = signed_in(people["employee"], width=width)
    page.goto(page.base_url + "/access/request/")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    problems += page_problems(page, "request form with errors", SCREENSHOTS)
    assert not problems, "\n".join(problems)


def test_a_failed_submit_focuses_a_summary_linking_each_error_to_its_field(
    signed_in: Any, employee: Any
) -> None:
    page = signed_in(employee, width=PHONE)
    page.goto(page.base_url + "/access/request/")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    summary = page.locator(".error-summary")
    # Each field is described by its own help text and error, under the ids Django gives them.
    described = page.locator("#id_justification").get_attribute("aria-describedby").split()
    assert described == ["id_justification_helptext", "id_justification_error"]
    assert "20 to 1000 characters" in page.inner_text("#id_justification_helptext")
    assert "required" in page.inner_text("#id_justification_error")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    first = summary.locator("a").first
    target = first.get_attribute("href")
    first.click()
    assert page.evaluate("'#' + document.activeElement.id") == target


def _contrast(rgb: str, background: tuple[int, int, int] = (255, 255, 255)) -> float:
    """WCAG contrast ratio between a CSS `rgb(r, g, b)` colour and the background."""

    def luminance(channels: tuple[int, ...]) -> float:
        linear = [
            c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
            for c in (v / 255 for v in channels)
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    colour = tuple(int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    lighter, darker = sorted((luminance(colour), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_keyboard_focus_ring_stands_out_on_white(signed_in: Any, employee: Any) -> None:
    page = signed_in(employee)
    page.goto(page.base_url + "/access/request/")
    page.locator("#id_justification").focus()
    page.keyboard.press("Shift+Tab")  # from the keyboard, so :focus-visible applies
    for selector in ("main a", "main button[type=submit]", "#id_justification"):
        page.locator(selector).first.focus()
        page.keyboard.press("Shift")
        style = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
        )
        assert style[0] == "solid" and float(style[1].rstrip("px")) >= 2, (selector, style)
        assert _contrast(style[2]) >= 3, (selector, style)


def test_on_a_phone_the_menu_folds_behind_a_button_and_marks_the_current_page(
    signed_in: Any, employee: Any, manager: Any
) -> None:
    page = signed_in(manager, width=PHONE)
    page.goto(page.base_url + "/access/approvals/history/")
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("nav[aria-label=Main]").is_hidden()
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    current = page.locator("nav[aria-label=Main] [aria-current=page]")
    assert current.count() == 1 and current.inner_text().startswith("Approvals")
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    assert page.locator("nav[aria-label=Main]").is_hidden()
    assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")


def test_without_javascript_the_menu_stays_open_on_a_phone(
    chromium: Any, live_server: Any, employee: Any
) -> None:
    context = chromium.new_context(
        viewport={"width": PHONE, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", employee.email)
    page.fill("input[name=password]", "portal-test-pass")
    page.click("main button[type=submit]")
    page.goto(f"{live_server.url}/access/")
    assert page.locator("nav[aria-label=Main] a", has_text="Request access").is_visible()
    assert page.locator(".menu-toggle").is_hidden()
    assert page.locator("nav [aria-current=page]").inner_text() == "My access"
    context.close()
