"""Pagination that never counts a whole table: the audit trail's million rows cost one
COUNT(*) scan each page otherwise, the slowest part of its page."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Counted this many pages past the one asked for, at most: "Page 3 of 13+" beyond.
LOOK_AHEAD_PAGES = 10


def page_number(value: Any) -> int:
    """The page asked for (`?page=`), 1 when it is missing or not a positive number."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return max(number, 1)


class CappedPaginator(Paginator):
    """A Paginator whose count stops `LOOK_AHEAD_PAGES` past the page asked for: a query of
    `COUNT(*)` over a LIMIT, whose cost grows with how deep one reads, not with the table.
    `capped` says the count stopped there (the template then says "13+")."""

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, asked: Any) -> None:
        super().__init__(object_list, per_page)
        self.queryset = object_list
        self.limit = (page_number(asked) + LOOK_AHEAD_PAGES) * per_page + 1

    @cached_property
    def count(self) -> int:
        return self.queryset[: self.limit].count()

    @property
    def capped(self) -> bool:
        # The one row past the pages counted is not shown: it only says there are more.
        return self.count >= self.limit

    @cached_property
    def num_pages(self) -> int:
        if self.capped:
            return (self.limit - 1) // self.per_page
        return int(super().num_pages)


class ShortListPaginator(Paginator):
    """A Paginator that reads the first page with one row more than it shows: when the whole
    list fits on that page (most people's requests, most managers' queue), that one read is
    both the page and its count, and no `COUNT(*)` runs. Longer lists count as usual."""

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, asked: Any) -> None:
        super().__init__(object_list, per_page)
        self.first_asked = page_number(asked) == 1

    @cached_property
    def head(self) -> list[Any]:
        return list(self.object_list[: self.per_page + 1])

    @cached_property
    def count(self) -> int:
        if self.first_asked and len(self.head) <= self.per_page:
            return len(self.head)
        return int(super().count)

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        if number == 1 and self.first_asked:
            return Page(self.head[: self.per_page], 1, self)
        return super().page(number)
