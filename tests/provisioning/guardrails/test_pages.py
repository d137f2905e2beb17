"""The guardrails' pages: the same number of SQL queries for one row and for many, search and
pagination on the long lists, and a sensible empty state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    AccessKeyRecordFactory,
    ComplianceSnapshotFactory,
    DriftFindingFactory,
    GuardrailNoticeFactory,
    IamAccountFactory,
    KeyAgeExtensionFactory,
    KeyRotationFactory,
    MfaEnrolmentFactory,
    UserFactory,
)
from tests.provisioning.guardrails.conftest import signed_in

pytestmark = pytest.mark.django_db


def _key(owner: Any = None) -> Any:
    account = IamAccountFactory(**({"owner": owner} if owner else {}))
    record = AccessKeyRecordFactory(iam_account=account)
    GuardrailNoticeFactory(iam_account=account, credential=record.access_key_id)
    KeyAgeExtensionFactory(iam_account=account, access_key_id=record.access_key_id)
    return record


def _accounts_of(person: Any) -> Callable[[], None]:
    def make() -> None:
        account = IamAccountFactory(owner=person)
        AccessKeyRecordFactory(iam_account=account)
        MfaEnrolmentFactory(iam_account=account, status="enabled")
        KeyRotationFactory(iam_account=account, status="overlap")

    return make


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("name", "who", "make"),
    [
        ("guardrails_keys", "security", lambda people: _key()),
        ("guardrails_drift", "security", lambda people: DriftFindingFactory()),
        ("guardrails_compliance", "security", lambda people: ComplianceSnapshotFactory()),
        (
            "guardrails_my_credentials",
            "employee",
            lambda people: _accounts_of(people["employee"])(),
        ),
    ],
)
def test_a_page_runs_the_same_queries_for_one_row_and_for_sixty(
    people: dict[str, Any], name: str, who: str, make: Any, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(people[who])
    url = reverse(name)
    make(people)
    client.get(url)  # warm the session and permission caches
    one = _queries(client, url)
    for _ in range(59):
        make(people)

    with django_assert_max_num_queries(one):
        response = client.get(url)

    assert response.status_code == 200


def test_the_keys_page_is_searched_and_paginated(security_admin: Any) -> None:
    records = [_key() for _ in range(55)]
    client = signed_in(security_admin)

    first = client.get(reverse("guardrails_keys")).content.decode()
    found = client.get(reverse("guardrails_keys"), {"q": records[3].access_key_id}).content.decode()
    nothing = client.get(reverse("guardrails_keys"), {"q": "nobody-at-all"}).content.decode()

    assert "Page 1 of 2" in first
    assert found.count("<tr>") == 2 and records[3].access_key_id in found
    assert "No live access key matches" in nothing


def test_the_drift_page_filters_by_status_and_searches(security_admin: Any) -> None:
    DriftFindingFactory(iam_user_name="open-one")
    DriftFindingFactory(iam_user_name="gone-one", status="gone")
    client = signed_in(security_admin)

    open_page = client.get(reverse("guardrails_drift")).content.decode()
    gone_page = client.get(reverse("guardrails_drift"), {"status": "gone"}).content.decode()
    searched = client.get(
        reverse("guardrails_drift"), {"status": "", "q": "gone-"}
    ).content.decode()

    assert "open-one" in open_page and "gone-one" not in open_page
    assert "gone-one" in gone_page and "open-one" not in gone_page
    assert "gone-one" in searched and "open-one" not in searched


@pytest.mark.parametrize(
    ("name", "who", "says"),
    [
        ("guardrails_keys", "security", "no access key that is still live"),
        ("guardrails_drift", "security", "no scan has run yet"),
        ("guardrails_compliance", "security", "No score yet"),
        ("guardrails_my_credentials", "employee", "No live IAM user yet"),
    ],
)
def test_an_empty_page_says_so(people: dict[str, Any], name: str, who: str, says: str) -> None:
    page = signed_in(people[who]).get(reverse(name)).content.decode()

    assert says in page


def test_my_access_shows_the_credentials_panel_for_a_person_with_an_iam_user(
    employee: Any,
) -> None:
    account = IamAccountFactory(owner=employee)
    AccessKeyRecordFactory(iam_account=account)
    client = signed_in(employee)

    my_access = client.get(reverse("my_access")).content.decode()
    panel = client.get(
        reverse("guardrails_my_credentials"), HTTP_HX_REQUEST="true"
    ).content.decode()

    for page in (my_access, panel):
        assert reverse("guardrails_mfa", args=[account.pk]) in page
        assert reverse("guardrails_rotate_key", args=[account.pk]) in page
    assert "<html" not in panel
    assert reverse("guardrails_mfa", args=[account.pk]) in panel
    assert reverse("guardrails_rotate_key", args=[account.pk]) in panel


def test_security_admins_reach_the_guardrails_from_the_navigation(security_admin: Any) -> None:
    page = signed_in(security_admin).get(reverse("guardrails_drift")).content.decode()
    employee_page = signed_in(UserFactory()).get(reverse("my_access")).content.decode()

    assert reverse("guardrails_compliance") in page
    assert reverse("guardrails_compliance") not in employee_page


def test_only_keys_past_the_first_reminder_can_be_extended(security_admin: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from provisioning.models import AccessKeyRecord

    young = AccessKeyRecordFactory()
    old = AccessKeyRecordFactory()
    AccessKeyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=80))

    page = signed_in(security_admin).get(reverse("guardrails_keys")).content.decode()

    assert reverse("guardrails_key_extend", args=[old.pk]) in page
    assert reverse("guardrails_key_extend", args=[young.pk]) not in page
    assert "Not yet: from 75 days old" in page
