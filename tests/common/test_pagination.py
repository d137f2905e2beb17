"""The capped paginator counts no further than ten pages past the one asked for; the short
list paginator does not count a list that fits on its first page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from common.pagination import CappedPaginator, ShortListPaginator, page_number
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_count_stops_ten_pages_ahead_and_says_so():
    UserFactory.create_batch(30)
    people = User.objects.order_by("pk")

    first = CappedPaginator(people, 2, asked="1")
    with CaptureQueriesContext(connection) as queries:
        page = first.get_page("1")
    assert next(q["sql"] for q in queries if "COUNT" in q["sql"]).count("LIMIT 23") == 1
    assert (first.count, first.capped, first.num_pages) == (23, True, 11)
    assert page.has_next() and len(page.object_list) == 2

    deep = CappedPaginator(people, 2, asked="11")
    assert (deep.count, deep.capped, deep.num_pages) == (30, False, 15)
    assert deep.get_page("11").has_next()
    assert not deep.get_page("15").has_next()


def test_a_bad_page_number_is_the_first_page():
    assert [page_number(v) for v in (None, "", "x", "-3", "0", "4")] == [1, 1, 1, 1, 1, 4]


def test_the_audit_trail_says_there_are_more_pages_than_counted(client):
    from accounts import roles
    from audit.models import AuditEvent
    from tests.bench.scale import seed_audit_rows

    auditor = UserFactory(roles=[roles.AUDITORS])
    seed_audit_rows(600, [(auditor.pk, auditor.email)])
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert "Page 1 of 11+" in page
    pages = -(-AuditEvent.objects.count() // 50)
    assert pages >= 12
    assert f"Page 12 of {pages}<" in client.get("/audit/?page=12").content.decode()


def test_a_list_that_fits_on_its_first_page_is_read_once_and_not_counted():
    UserFactory.create_batch(5)
    people = User.objects.order_by("pk")
    with CaptureQueriesContext(connection) as queries:
        page = ShortListPaginator(people, 5, asked=None).get_page(None)
        shown = [person.pk for person in page.object_list]
    assert len(queries) == 1 and "COUNT" not in queries[0]["sql"]
    assert shown == list(people.values_list("pk", flat=True))
    assert (page.paginator.count, page.paginator.num_pages, page.has_next()) == (5, 1, False)


def test_a_longer_list_is_counted_and_every_page_is_there():
    UserFactory.create_batch(7)
    people = User.objects.order_by("pk")
    everyone = list(people.values_list("pk", flat=True))
    first = ShortListPaginator(people, 3, asked="1").get_page("1")
    assert [p.pk for p in first.object_list] == everyone[:3]
    assert (first.paginator.count, first.paginator.num_pages, first.has_next()) == (7, 3, True)
    third = ShortListPaginator(people, 3, asked="3").get_page("3")
    assert [p.pk for p in third.object_list] == everyone[6:]
    beyond = ShortListPaginator(people, 3, asked="9").get_page("9")
    assert beyond.number == 3 and [p.pk for p in beyond.object_list] == everyone[6:]
