"""A second request for a role-group the person already holds keeps the live grant."""

from __future__ import annotations

from typing import Any

import pytest

from provisioning.models import AccessRequest, Grant
from provisioning.onboarding.run import access_request_provision
from tests.provisioning.strict_onboarding import approved_request, use_strict_onboarding

pytestmark = pytest.mark.django_db


def test_request_for_a_role_group_already_held_keeps_the_one_live_grant(
    aws: None, settings: Any, employee: Any
) -> None:
    use_strict_onboarding(settings)
    first = approved_request(employee)
    assert access_request_provision(request_id=first.pk) == "active"
    again = approved_request(
        employee, role_group=first.role_group, access_type=AccessRequest.AccessType.CONSOLE
    )

    assert access_request_provision(request_id=again.pk) == "active"

    grants = list(Grant.objects.filter(role_group=first.role_group, revoked_at__isnull=True))
    assert [grant.request_id for grant in grants] == [first.pk]
    again.refresh_from_db()
    assert "group" in again.steps_done
