"""Every lifecycle page costs the same number of SQL queries whatever the data size: each is
measured with a few rows and with many, and must not grow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Grant, ReviewItem
from tests.factories import (
    AccessRequestFactory,
    AccessReviewFactory,
    GrantFactory,
    IamAccountFactory,
    ReviewItemFactory,
    RoleGroupFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
FEW, MANY = 2, 40


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def _estate(manager: Any, security: Any, size: int) -> dict[str, Any]:
    """`size` reports of the manager, each with a live grant, an ended one and a review item
    in one campaign (decided for half of them); a temporary role-group per report."""
    campaign = AccessReviewFactory(started_by=security)
    soon = timezone.localdate() + timedelta(days=20)
    for n in range(size):
        person = UserFactory(manager=manager)
        account = IamAccountFactory(owner=person)
        grant = GrantFactory(iam_account=account, ends_on=soon)
        GrantFactory(
            iam_account=account,
            revoked_at=timezone.now(),
            end=Grant.End.REVOKED,
            ended_by=manager,
            end_reason="Done.",
        )
        AccessRequestFactory(requester=person, grant=grant, role_group=grant.role_group)
        ReviewItemFactory(
            campaign=campaign,
            grant=grant,
            decision=ReviewItem.Decision.KEEP if n % 2 else ReviewItem.Decision.PENDING,
            decided_by=manager if n % 2 else None,
        )
        RoleGroupFactory(temporary_only=True, max_duration_hours=4)
    campaign.role_groups.set(RoleGroupFactory.create_batch(2))
    return {"campaign": campaign}


def _one_holder(manager: Any, size: int) -> Grant:
    """The employee-to-be's grant, with `size` ended grants behind it (its history)."""
    person = UserFactory(manager=manager)
    account = IamAccountFactory(owner=person)
    for _ in range(size):
        GrantFactory(iam_account=account, revoked_at=timezone.now(), end=Grant.End.EXPIRED)
    return GrantFactory(iam_account=account, ends_on=timezone.localdate() + timedelta(days=5))


PAGES: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "grants_held as manager": ("manager", lambda o: reverse("grants_held")),
    "grants_held as security": ("security", lambda o: reverse("grants_held")),
    "my_reviews as manager": ("manager", lambda o: reverse("my_reviews")),
    "my_reviews as security": ("security", lambda o: reverse("my_reviews")),
    "access_reviews": ("auditor", lambda o: reverse("access_reviews")),
    "access_review_detail": (
        "auditor",
        lambda o: reverse("access_review_detail", args=[o["campaign"].pk]),
    ),
    "access_review_report": (
        "auditor",
        lambda o: reverse("access_review_report", args=[o["campaign"].pk]),
    ),
    "access_review_report_csv": (
        "auditor",
        lambda o: reverse("access_review_report_csv", args=[o["campaign"].pk]),
    ),
    "request_elevation": ("employee", lambda o: reverse("request_elevation")),
    "access_review_new": ("security", lambda o: reverse("access_review_new")),
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_lifecycle_list_page_costs_the_same_queries_for_few_and_many_rows(
    page: str, people: dict[str, Any]
) -> None:
    role, url_of = PAGES[page]
    client = Client()
    client.force_login(people[role])
    few = _count(client, url_of(_estate(people["manager"], people["security"], FEW)))
    many_objects = _estate(people["manager"], people["security"], MANY)
    assert _count(client, url_of(many_objects)) <= few, page


@pytest.mark.parametrize("name", ["grant_extend", "grant_relinquish", "my_access", "grant_revoke"])
def test_a_grant_page_costs_the_same_queries_with_a_short_or_long_history(
    name: str, people: dict[str, Any]
) -> None:
    counts = []
    for size in (FEW, MANY):
        grant = _one_holder(people["manager"], size)
        holder = grant.iam_account.owner
        client = Client()
        client.force_login(people["manager"] if name == "grant_revoke" else holder)
        url = reverse(name) if name == "my_access" else reverse(name, args=[grant.pk])
        counts.append(_count(client, url))
    assert counts[1] <= counts[0], counts


def test_the_person_panel_costs_the_same_queries_with_a_short_or_long_history(
    people: dict[str, Any],
) -> None:
    client = Client()
    client.force_login(people["hr"])
    counts = []
    for size in (FEW, MANY):
        holder = _one_holder(people["manager"], size).iam_account.owner
        counts.append(_count(client, reverse("person_access", args=[holder.pk])))
    assert counts[1] <= counts[0], counts
