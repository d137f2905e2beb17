"""The people's journeys in a real browser against `make run` (`make e2e`, not `make test`).

Headless Chromium (Debian's, at E2E_CHROMIUM, default /usr/bin/chromium) driven by Playwright:
the employee asks for access, the manager approves, the worker provisions in the fake AWS, the
employee reveals the credentials once, HR offboards, and the leaver can no longer sign in.

Every journey runs twice, on a fresh portal each time: at desktop width and on a 390 px phone.
Each step is checked with axe-core (no serious or critical violation) and, on the phone, for
sideways scrolling; a screenshot of each step goes to E2E_SCREENSHOTS (default
var/e2e-screenshots/<width>px/)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.accessibility import DESKTOP, WIDTHS, page_problems
from tests.portal.test_make_run import READY_TIMEOUT, Run, _free_port

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "portal-demo-pass"
SCREENSHOTS = Path(
    os.environ.get("E2E_SCREENSHOTS", Path(__file__).parents[2] / "var" / "e2e-screenshots")
)


@pytest.fixture(scope="module", params=WIDTHS, ids=lambda width: f"{width}px")
def width(request: pytest.FixtureRequest) -> int:
    """The window width the journeys of a module walk at; each width gets its own portal."""
    return request.param


@pytest.fixture(scope="module")
def portal(width: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    run = Run(tmp_path_factory.mktemp("e2e") / "var", port)
    try:
        run.wait_for("==> ready in", READY_TIMEOUT)
        yield f"http://127.0.0.1:{port}"
    finally:
        run.interrupt()
        run.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set E2E_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Person:
    """One signed-in person in their own browser context, at one window width. Every page they
    reach through `go` or `shot` is checked (axe-core, sideways scrolling on a phone); `close`
    fails on what was found."""

    def __init__(self, browser: Any, base: str, email: str, width: int = DESKTOP) -> None:
        self.base = base
        self.width = width
        self.who = email.split("@")[0]
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: dialog.accept())
        self.page.goto(f"{base}/accounts/login/")
        self.check("login")
        self.page.fill("input[name=login]", email)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("main button[type=submit]")
        self.page.wait_for_load_state()
        self.shot("signed-in")

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.check(path.strip("/").replace("/", "-") or "home")
        return self.page

    def check(self, name: str) -> None:
        self.page.wait_for_load_state()
        self.problems += page_problems(self.page, f"{self.who}: {name} ({self.page.url})")

    def shot(self, name: str) -> None:
        """Check the page, then keep a screenshot of it in <width>px/<test>/NN-<who>-<name>.png."""
        self.check(name)
        test = os.environ.get("PYTEST_CURRENT_TEST", "journey").split("::")[-1].split("[")[0]
        folder = SCREENSHOTS / f"{self.page.viewport_size['width']}px" / test
        folder.mkdir(parents=True, exist_ok=True)
        step = len(list(folder.glob("*.png"))) + 1
        path = folder / f"{step:02d}-{self.who}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)

    def follow_menu(self, label: str) -> None:
        """Click a link of the main menu, opening it first where a phone folds it away."""
        toggle = self.page.locator(".menu-toggle")
        if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        self.page.locator("nav a", has_text=label).click()
        self.check(f"menu-{label}")

    def text(self) -> str:
        return self.page.inner_text("main")

    def close(self) -> None:
        assert not self.errors, f"JavaScript errors: {self.errors}"
        assert not self.problems, "\n".join(self.problems)
        self.context.close()


def _eventually(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        time.sleep(1)


def test_onboarding_then_offboarding_as_people_do_it(portal: str, browser: Any, width: int) -> None:
    employee = Person(browser, portal, "employee@example.com", width)
    assert employee.page.url == f"{portal}/"  # everyone lands on the home page
    page = employee.go("/access/request/")
    value = page.evaluate(
        "() => [...document.querySelectorAll('select[name=role_group] option')]"
        ".find(o => o.textContent.includes('Developers')).value"
    )
    page.select_option("select[name=role_group]", value=value)
    page.get_by_label("Console and programmatic").check()
    page.fill("textarea[name=justification]", "I deploy the billing service to EC2 and S3.")
    employee.shot("request-form")
    page.click("text=Review the request")
    review = employee.text()
    assert "Password change required at first sign-in" in review
    assert "portal-developers" in review
    employee.shot("review")
    page.click("button[value=confirm]")
    assert "sent" in employee.text().lower()
    employee.close()

    manager = Person(browser, portal, "manager@example.com", width)
    manager.follow_menu("Approvals")
    assert "Erin Employee" in manager.text()
    manager.shot("approvals")
    manager.page.click("button[name=approve_one]")
    assert re.search(r"Approved #\d+", manager.text())
    manager.close()

    employee = Person(browser, portal, "employee@example.com", width)

    def provisioned() -> bool:
        employee.go("/access/")
        return "check your email" in employee.text()

    _eventually(provisioned)
    employee.shot("my-access")
    outbox = employee.go("/outbox/")
    outbox.click("text=Your AWS access is ready")
    employee.shot("email")
    link = re.search(r"http://127\.0\.0\.1:\d+/access/credentials/[\w-]+/", employee.text())
    assert link, employee.text()
    assert "Secret" not in employee.text()
    employee.page.goto(link.group(0))
    employee.shot("confirm")
    employee.page.locator("main button[type=submit]").first.click()
    revealed = employee.text()
    assert "Secret access key" in revealed and "Console password" in revealed
    employee.shot("revealed")
    employee.page.goto(link.group(0))
    assert "already" in employee.text().lower()
    employee.shot("link-used")
    employee.close()

    hr = Person(browser, portal, "hr@example.com", width)
    hr.follow_menu("People")
    hr.page.locator("main a", has_text="Erin Employee").first.click()
    hr.shot("person")
    hr.page.locator("main a", has_text=re.compile("Offboard")).first.click()
    assert "Console login" in hr.text()
    hr.shot("offboard-confirm")
    hr.page.locator("main button[type=submit]").last.click()

    def completed() -> bool:
        hr.page.reload()
        return "Completed" in hr.text()

    _eventually(completed)
    hr.shot("offboarding-report")
    hr.close()

    leaver = Person(browser, portal, "employee@example.com", width)
    assert "This account is closed" in leaver.text()
    leaver.shot("closed")
    leaver.close()
