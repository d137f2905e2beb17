"""The guardrails in a real browser against `make run` (`make e2e`): the employee turns MFA on
right after revealing their credentials and rotates their key from My access; the security
admin checks the account's CIS score, sets the CIS password policy and scans for drift."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyotp

from tests.e2e.test_journeys import Person, _eventually


def _request_and_approve(browser: Any, portal: str, width: int) -> None:
    employee = Person(browser, portal, "employee@example.com", width)
    page = employee.go("/access/request/")
    value = page.evaluate(
        "() => [...document.querySelectorAll('select[name=role_group] option')]"
        ".find(o => o.textContent.includes('Analysts')).value"
    )
    page.select_option("select[name=role_group]", value=value)
    page.get_by_label("Programmatic (access key)").check()
    page.fill("textarea[name=justification]", "I read the billing tables for the monthly report.")
    page.click("text=Review the request")
    page.click("button[value=confirm]")
    employee.close()
    manager = Person(browser, portal, "manager@example.com", width)
    manager.go("/access/approvals/").click("button[name=approve_one]")
    manager.close()


def _open_link(person: Any, subject: str) -> str:
    def arrived() -> bool:
        person.go("/outbox/")
        return subject in person.text()

    _eventually(arrived)
    person.page.locator("main a", has_text=subject).first.click()
    link = re.search(r"http://127\.0\.0\.1:\d+/access/credentials/[\w-]+/", person.text())
    assert link, person.text()
    return link.group(0)


def test_mfa_at_hand_over_and_a_key_rotation_as_the_employee_does_them(
    portal: str, browser: Any, width: int
) -> None:
    _request_and_approve(browser, portal, width)
    employee = Person(browser, portal, "employee@example.com", width)
    employee.page.goto(_open_link(employee, "Your AWS access is ready"))
    employee.page.locator("main button[type=submit]").first.click()
    assert "aws sts get-session-token" in employee.text()
    employee.shot("reveal-with-mfa-help")
    mfa = employee.page.locator("main a", has_text="Set up MFA").get_attribute("href")
    employee.go(mfa)
    employee.page.locator("main button[type=submit]", has_text="Set up MFA").click()
    employee.shot("mfa-qr")
    assert employee.page.locator("main img[alt^='QR code']").count() == 1
    totp = pyotp.TOTP(employee.page.inner_text("#mfa-seed").strip())
    now = dt.datetime.now(dt.UTC)
    employee.page.fill("input[name=code_1]", totp.at(now - dt.timedelta(seconds=30)))
    employee.page.fill("input[name=code_2]", totp.at(now))
    employee.page.click("text=Turn on MFA")
    assert "MFA is on" in employee.text()

    employee.page.locator("main a", has_text="Rotate access key").click()
    employee.shot("rotate-confirm")
    employee.page.click("text=Make a new key")
    assert "check your email" in employee.text()
    employee.page.goto(_open_link(employee, "Your new access key"))
    employee.page.locator("main button[type=submit]").first.click()
    assert "Secret access key" in employee.text()
    employee.go("/access/")
    employee.page.wait_for_selector("#my-credentials")
    assert "Rotating" in employee.text()
    employee.shot("my-access-rotating")
    employee.close()


def test_the_security_admin_scores_the_account_and_scans_for_drift(
    portal: str, browser: Any, width: int
) -> None:
    admin = Person(browser, portal, "security@example.com", width)
    admin.follow_menu("Guardrails")
    assert "not been checked yet" in admin.text()
    admin.page.locator("main button", has_text="Check now").click()

    def scored() -> bool:
        admin.go("/access/guardrails/compliance/")
        return "controls pass" in admin.text()

    _eventually(scored)
    admin.shot("compliance")
    admin.page.click("text=Set the CIS password policy")
    assert "MinimumPasswordLength" in admin.text()
    admin.page.locator("main button[type=submit]").click()
    assert "now has the CIS values" in admin.text()

    admin.go("/access/guardrails/drift/")
    admin.page.locator("main button", has_text="Scan now").click()

    def scanned() -> bool:
        admin.go("/access/guardrails/drift/")
        return "Last scan: done" in admin.text()

    _eventually(scanned)
    admin.shot("drift")
    admin.close()
