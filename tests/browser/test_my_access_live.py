"""My access keeps itself up to date in a real browser: a request moving from provisioning to
active shows up (stepper, IAM user card) without a reload, and keyboard focus stays where the
person left it."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from provisioning.models import AccessRequest
from tests.factories import AccessRequestFactory, GrantFactory, IamAccountFactory, RoleGroupFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_page_follows_provisioning_to_active_without_a_reload_and_keeps_focus(
    signed_in: Any, employee: Any
) -> None:
    account = IamAccountFactory(owner=employee, user_name="erin")
    held = GrantFactory(iam_account=account, role_group=RoleGroupFactory(name="Analysts (live)"))
    wanted = RoleGroupFactory(name="Developers (live)")
    access_request = AccessRequestFactory(
        requester=employee,
        role_group=wanted,
        status=AccessRequest.Status.PROVISIONING,
        iam_account=account,
        decided_at=timezone.now(),
    )
    page = signed_in(employee)
    page.goto(f"{page.base_url}/access/")
    page.evaluate("window.__notReloaded = true")
    stepper = page.locator(f'[aria-label="Progress of request #{access_request.pk}"]')
    assert stepper.locator("[aria-current=step]").inner_text().startswith("Provisioning")
    give_up = page.locator(f"#relinquish-{held.pk}")
    give_up.focus()
    page.evaluate("window.__focused = document.activeElement")

    # The worker finishes: the request is active and the IAM user holds the new role-group.
    AccessRequest.objects.filter(pk=access_request.pk).update(
        status=AccessRequest.Status.ACTIVE, provisioned_at=timezone.now()
    )
    GrantFactory(iam_account=account, role_group=wanted, request=access_request)

    stepper.locator("[aria-current=step]", has_text="Active").wait_for(timeout=10_000)
    page.locator(f"#account-{account.pk} td strong", has_text="Developers (live)").wait_for(
        timeout=10_000
    )
    assert page.evaluate("window.__notReloaded") is True
    assert page.evaluate("document.activeElement.id") == f"relinquish-{held.pk}"
    # The very element, not a copy: the content was morphed around it, not replaced.
    assert page.evaluate("document.activeElement === window.__focused") is True
    # Nothing left that can change by itself: the page stops asking.
    assert page.locator("#my-access-poll[hx-get]").count() == 0
