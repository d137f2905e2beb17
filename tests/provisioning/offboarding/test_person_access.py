"""HR's access panel on a person's page (provisioning's view, loaded into the accounts page):
their IAM users with live role-groups, their latest offboarding and the Offboard button."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from provisioning.models import IamAccount, RoleGroup
from tests.factories import GrantFactory, IamAccountFactory, OffboardingFactory, UserFactory

pytestmark = pytest.mark.django_db


def _give_access(person: User) -> IamAccount:
    account = IamAccountFactory(owner=person, user_name=f"{person.pk}-iam")
    GrantFactory(iam_account=account, role_group=RoleGroup.objects.get(name="Developers"))
    GrantFactory(
        iam_account=account,
        role_group=RoleGroup.objects.get(name="Analysts"),
        revoked_at=timezone.now(),
    )
    return account


def test_the_panel_shows_live_role_groups_as_held_and_ended_ones_as_history(
    hr_client: Client, employee: Any
) -> None:
    account = _give_access(employee)
    response = hr_client.get(reverse("person_access", args=[employee.pk]), HTTP_HX_REQUEST="true")
    [shown] = response.context["iam_accounts"]
    assert shown.user_name == account.user_name
    assert [grant.role_group.name for grant in shown.live_grants] == ["Developers"]
    assert [grant.role_group.name for grant in shown.past_grants] == ["Analysts"]
    page = response.content.decode()
    assert account.user_name in page
    held, _, history = page.partition("Past role-groups")
    assert "Developers" in held and "Analysts" not in held
    assert "Analysts" in history
    # The fragment alone, for htmx to swap in: no second page layout.
    assert "<html" not in page


def test_a_person_without_access_says_so(hr_client: Client, employee: Any) -> None:
    page = hr_client.get(reverse("person_access", args=[employee.pk])).content.decode()
    assert "has no IAM accounts" in page
    # Without htmx it is a page of its own, with the way back.
    assert "<html" in page
    assert reverse("person_detail", args=[employee.pk]) in page


def test_the_panel_offers_offboarding_and_shows_the_latest_one(
    hr_client: Client, employee: Any, hr_person: Any
) -> None:
    page = hr_client.get(reverse("person_access", args=[employee.pk])).content.decode()
    assert reverse("offboard_person", args=[employee.pk]) in page
    assert "has not been offboarded" in page

    offboarding = OffboardingFactory(person=employee, started_by=hr_person)
    page = hr_client.get(reverse("person_access", args=[employee.pk])).content.decode()
    assert reverse("offboarding_detail", args=[offboarding.pk]) in page
    # Running: no second Offboard button until it has finished.
    assert reverse("offboard_person", args=[employee.pk]) not in page


def test_only_hr_sees_the_panel(client: Client, people: dict[str, Any]) -> None:
    url = reverse("person_access", args=[people["employee"].pk])
    for role in ("employee", "manager", "security", "auditor"):
        client.force_login(people[role])
        assert client.get(url).status_code == 403, role
    client.logout()
    assert client.get(url).status_code == 302


@pytest.mark.parametrize("size", [1, 50])
def test_the_panel_uses_the_same_number_of_queries_for_1_or_50_iam_users(
    hr_client: Client, django_assert_max_num_queries: Any, size: int
) -> None:
    boss = UserFactory()
    for _ in range(size):
        GrantFactory(iam_account=IamAccountFactory(owner=boss))
    # The page's own, HR's banner of leavers from the identity provider (base.html), and
    # two that read each account's past grants and the open extensions of its live ones, and
    # its scheduled offboarding.
    with django_assert_max_num_queries(13):
        response = hr_client.get(reverse("person_access", args=[boss.pk]))
    assert response.status_code == 200
    assert len(response.context["iam_accounts"]) == size
