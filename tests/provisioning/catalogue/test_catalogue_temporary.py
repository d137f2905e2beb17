"""The catalogue's lifecycle settings: a role-group granted for hours only (temporary
elevation), and whether its last grant ending takes the person's credentials with it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from provisioning.catalogue.forms import RoleGroupForm
from provisioning.models import RoleGroup

pytestmark = pytest.mark.django_db

BREAK_GLASS = {
    "name": "Break-glass admins",
    "description": "Full access for an incident, a few hours at a time.",
    "iam_group_name": "portal-break-glass",
    "managed_policy_arns": "arn:aws:iam::aws:policy/AdministratorAccess",
    "sensitive": "on",
    "temporary_only": "on",
    "max_duration_hours": "4",
    "ending_removes_credentials": "on",
    "active": "on",
}


def test_a_security_admin_adds_a_temporary_role_group_limited_in_hours(
    client, security_admin
) -> None:
    client.force_login(security_admin)

    response = client.post(reverse("catalogue_create"), BREAK_GLASS)

    assert response.status_code == 302
    role_group = RoleGroup.objects.get(name="Break-glass admins")
    assert role_group.temporary_only and role_group.max_duration_hours == 4
    assert role_group.ending_removes_credentials
    event = AuditEvent.objects.get(action="catalogue.created")
    assert event.data["temporary_only"] is True and event.data["max_duration_hours"] == 4
    page = client.get(reverse("catalogue")).content.decode()
    assert "Temporary" in page and "at most 4 hours" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"max_duration_hours": ""}, "max_duration_hours", "how many hours"),
        ({"max_duration_days": "30"}, "max_duration_days", "leave the days empty"),
        ({"max_duration_hours": "500"}, "max_duration_hours", "Between 1 and 168"),
        ({"temporary_only": ""}, "max_duration_hours", "temporary role-groups only"),
    ],
)
def test_temporary_settings_that_do_not_fit_together_are_refused_with_a_reason(
    overrides: dict[str, str], field: str, message: str
) -> None:
    form = RoleGroupForm({**BREAK_GLASS, **overrides})
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])
