from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    # allauth keeps its sign-in rate limits in the cache: one test's failures must not
    # refuse the next test's sign-in.
    cache.clear()
    yield
    cache.clear()
