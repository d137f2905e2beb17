"""The approvals dashboard as a browser works it: Enter on a row's checkbox decides nothing,
each row's Approve decides that row only, and "Reject selected" with nothing ticked says so
instead of asking to confirm nothing."""

from __future__ import annotations

from typing import Any

import pytest

from provisioning.models import AccessRequest, Approval
from tests.factories import AccessRequestFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _pending(employee: Any, count: int) -> list[AccessRequest]:
    return [AccessRequestFactory(requester=employee) for _ in range(count)]


def _statuses(requests: list[AccessRequest]) -> list[str]:
    return [AccessRequest.objects.get(pk=r.pk).status for r in requests]


def test_enter_on_a_checkbox_decides_nothing(signed_in: Any, employee: Any, manager: Any) -> None:
    first, second = _pending(employee, 2)
    page = signed_in(manager)
    page.goto(f"{page.base_url}/access/approvals/")
    box = page.locator(f"#select-{second.pk}")
    box.focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    assert _statuses([first, second]) == ["pending", "pending"]
    assert page.url.endswith("/access/approvals/")


def test_a_rows_approve_decides_that_row_only(signed_in: Any, employee: Any, manager: Any) -> None:
    first, second = _pending(employee, 2)
    page = signed_in(manager)
    page.goto(f"{page.base_url}/access/approvals/")
    page.locator(f"#select-{first.pk}").check()  # a tick elsewhere changes nothing
    page.locator(f"button[form=approve-{second.pk}]").click()
    page.wait_for_load_state("networkidle")
    # Approved (provisioning then runs eagerly here, with no AWS to reach: what counts is
    # which request was decided, and by whom).
    assert _statuses([first])[0] == "pending"
    assert list(Approval.objects.values_list("request_id", "approver_id", "decision")) == [
        (second.pk, manager.pk, "approved")
    ]


def test_reject_selected_with_nothing_ticked_asks_nothing_and_rejects_nothing(
    signed_in: Any, employee: Any, manager: Any
) -> None:
    (only,) = _pending(employee, 1)
    page = signed_in(manager)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{page.base_url}/access/approvals/")
    page.fill("textarea[name=reason]", "Not needed this quarter.")
    page.locator("button[value=reject]").click()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("[data-nothing-ticked]").is_visible()
    assert _statuses([only]) == ["pending"]
    # The guard button of the form stays out of sight.
    assert page.locator("#bulk-decisions > button[disabled]").is_hidden()
