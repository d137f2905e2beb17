"""Access over time in a real browser against `make run` (`make e2e`, not `make test`): a
security admin adds temporary access to the catalogue; the employee's grant is extended
(asking again offers the extension), temporary access is granted for hours and revoked by the
manager, an access review is kept, the employee gives a grant up, and history stays on My
access and HR's person page. Like every journey it runs at desktop width and on a 390 px
phone, each page checked with axe-core and, on the phone, for sideways scrolling."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.e2e.test_journeys import Person, _eventually, browser, portal, width  # noqa: F401


def _role_group_value(page: Any, select: str, name: str) -> str:
    return page.evaluate(
        f"() => [...document.querySelectorAll('{select} option')]"
        f".find(o => o.textContent.includes('{name}')).value"
    )


def test_grants_end_extend_and_are_reviewed_as_people_do_it(
    portal: str,  # noqa: F811
    browser: Any,  # noqa: F811
    width: int,  # noqa: F811
) -> None:
    today = dt.datetime.now(dt.UTC).date()  # the demo runs in UTC
    security = Person(browser, portal, "security@example.com", width)
    page = security.go("/access/catalogue/new/")
    page.fill("#id_name", "Break-glass admins")
    page.fill("#id_iam_group_name", "portal-break-glass")
    page.check("#id_sensitive")
    page.check("#id_temporary_only")
    page.fill("#id_max_duration_hours", "4")
    page.click("main button[type=submit]")
    assert "Break-glass admins added" in security.text()
    # Nobody can ask for it until it exists in AWS.
    security.go("/access/catalogue/").locator("main button", has_text="Sync to AWS").click()
    _eventually(lambda: "Not ready yet" not in security.go("/access/catalogue/").inner_text("main"))
    security.shot("catalogue-synced")

    employee = Person(browser, portal, "employee@example.com", width)
    manager = Person(browser, portal, "manager@example.com", width)
    page = employee.go("/access/request/")
    page.select_option(
        "#id_role_group", value=_role_group_value(page, "#id_role_group", "Developers")
    )
    page.get_by_label("Console", exact=True).check()
    page.fill("#id_justification", "Deploying the billing service and debugging it.")
    page.fill("#id_end_date", (today + dt.timedelta(days=10)).isoformat())
    page.click("text=Review the request")
    page.click("button[value=confirm]")
    manager.go("/access/approvals/").click("button[name=approve_one]")
    _eventually(lambda: "Give up" in employee.go("/access/").inner_text("main"))
    employee.shot("my-access")

    # Asking again for what one holds until a date offers the extension.
    page = employee.go("/access/request/")
    page.select_option(
        "#id_role_group", value=_role_group_value(page, "#id_role_group", "Developers")
    )
    page.get_by_label("Console", exact=True).check()
    page.fill("#id_justification", "Still deploying the billing service next month.")
    page.click("text=Review the request")
    assert "ask to extend it instead" in employee.text()
    employee.shot("extension-offered")
    page.fill("#id_end_date", (today + dt.timedelta(days=40)).isoformat())
    page.click("main button:has-text('Ask to extend')")
    assert "Extension asked" in employee.text()
    manager.go("/access/approvals/")
    assert "Extension" in manager.text()
    manager.page.click("button[name=approve_one]")
    new_end = (today + dt.timedelta(days=40)).strftime("%-d %b %Y")
    _eventually(lambda: new_end in employee.go("/access/").inner_text("main"))

    # Temporary access: two approvals (sensitive), then the manager revokes it.
    page = employee.go("/access/temporary/")
    employee.shot("temporary-access")
    page.select_option(
        "#id_role_group", value=_role_group_value(page, "#id_role_group", "Break-glass")
    )
    page.fill("#id_duration_hours", "2")
    page.fill("#id_justification", "Incident INC-1234: rotate the compromised key.")
    page.click("main button[type=submit]")
    assert "sent" in employee.text().lower(), employee.text()
    manager.go("/access/approvals/").click("button[name=approve_one]")
    security.go("/access/approvals/").click("button[name=approve_one]")
    _eventually(lambda: employee.go("/access/").inner_text("main").count("Give up") == 2)
    page = manager.go("/access/grants/")
    manager.shot("access-held")
    page.locator("main a", has_text="Revoke").first.click()
    page.click("main button[type=submit]")
    assert "Give a reason" in manager.text()
    page.fill("#id_reason", "Incident closed.")
    page.click("main button[type=submit]")
    assert "Revoked" in manager.text()

    # An access review: the manager keeps what is left; the auditor reads the evidence.
    page = security.go("/access/reviews/campaigns/new/")
    page.fill("#id_name", "Q4 access review")
    page.fill("#id_deadline", (today + dt.timedelta(days=14)).isoformat())
    page.click("text=Start the review")
    assert "started" in security.text()
    page = manager.go("/access/reviews/")
    manager.shot("my-reviews")
    page.locator("main button[value=keep]").first.click()
    assert "Kept" in manager.text()
    auditor = Person(browser, portal, "auditor@example.com", width)
    page = auditor.go("/access/reviews/campaigns/")
    page.locator("main a", has_text="Q4 access review").click()
    auditor.shot("review-detail")
    page.click("text=Printable report")
    assert "Kept" in auditor.text()
    auditor.shot("review-report")

    # Giving up: history stays, on My access and on HR's person page.
    page = employee.go("/access/")
    page.locator("main a", has_text="Give up").first.click()
    page.click("main button[type=submit]")
    _eventually(lambda: "Given up" in employee.go("/access/").inner_text("main"))
    history = employee.text()
    assert "Past role-groups" in history and "Revoked" in history and "Give up" not in history
    employee.shot("my-access-history")
    hr = Person(browser, portal, "hr@example.com", width)
    page = hr.go("/people/")
    page.locator("main a", has_text="Erin Employee").first.click()
    _eventually(lambda: "Past role-groups" in hr.text(), timeout=10)
    for person in (security, employee, manager, auditor, hr):
        person.close()
