"""Asking for another role-group never removes a credential by accident: the form starts at
the access the person has, removing console or key access is an explicit choice, and that
choice is stated on the review page, to the approver, and in the emails."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from provisioning.models import AccessRequest, RoleGroup
from provisioning.onboarding.notifications import provisioning_active
from tests.factories import AccessRequestFactory, GrantFactory, IamAccountFactory, RoleGroupFactory

pytestmark = pytest.mark.django_db

URL = reverse("request_access")
WHY = "Need the data warehouse for the quarterly numbers."


@pytest.fixture
def holder(employee: Any) -> Any:
    """Erin, with console and key access from an earlier request."""
    account = IamAccountFactory(owner=employee, user_name="erin")
    held = RoleGroup.objects.get(name="Developers")
    GrantFactory(iam_account=account, role_group=held)
    AccessRequestFactory(
        requester=employee,
        role_group=held,
        access_type=AccessRequest.AccessType.BOTH,
        status=AccessRequest.Status.ACTIVE,
        iam_account=account,
    )
    return employee


def _answers(role_group: Any, access_type: str, **extra: str) -> dict[str, str]:
    return {
        "role_group": str(role_group.pk),
        "same_as": "",
        "access_type": access_type,
        "justification": WHY,
        "end_date": "",
        **extra,
    }


def test_the_form_starts_at_the_access_the_person_has(client: Client, holder: Any) -> None:
    client.force_login(holder)
    response = client.get(URL)
    assert response.context["form"]["access_type"].value() == AccessRequest.AccessType.BOTH
    [checked] = [line for line in response.content.decode().split("<input") if "checked" in line]
    assert 'value="both"' in checked
    assert "You have console and programmatic access now." in response.content.decode()


def test_dropping_the_access_key_without_saying_so_is_refused(client: Client, holder: Any) -> None:
    analysts = RoleGroupFactory(name="Analysts (test)")
    client.force_login(holder)
    response = client.post(URL, _answers(analysts, "console", step="review"))
    page = response.content.decode()
    assert "This removes your access key: anything using it stops working." in page
    assert "Review your request" not in page
    assert not AccessRequest.objects.filter(role_group=analysts).exists()


def test_an_explicit_removal_is_stated_to_the_requester_the_approver_and_in_the_emails(
    client: Client, holder: Any, manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    analysts = RoleGroupFactory(name="Analysts (test)")
    client.force_login(holder)
    chosen = _answers(analysts, "console", remove_confirmed="on")
    review = client.post(URL, {**chosen, "step": "review"})
    assert "This request removes access you have now" in review.content.decode()
    assert "your access key is deleted" in review.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, {**chosen, "step": "confirm", "digest": review.context["digest"]})
    created = AccessRequest.objects.get(role_group=analysts)
    assert created.previous_access_type == AccessRequest.AccessType.BOTH
    assert created.removes_access_key and not created.removes_console
    [to_manager] = [m for m in mail.outbox if m.to == [manager.email]]
    assert "REMOVING their access key" in to_manager.body

    approver = Client()
    approver.force_login(manager)
    dashboard = approver.get(reverse("approvals")).content.decode()
    assert "Removes the access key" in dashboard

    created.status = AccessRequest.Status.ACTIVE
    provisioning_active(created)
    done = mail.outbox[-1]
    assert "your access key is deleted" in done.body
    assert "keep using the ones you have" not in done.body


def test_keeping_the_current_access_asks_nothing_more(client: Client, holder: Any) -> None:
    analysts = RoleGroupFactory(name="Analysts (test)")
    client.force_login(holder)
    review = client.post(URL, _answers(analysts, "both", step="review"))
    page = review.content.decode()
    assert "Review your request" in page
    assert "removes access you have now" not in page
