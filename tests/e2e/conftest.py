# The browser and `make run` fixtures of the onboarding journey, for the other journeys too.
import shutil
from collections.abc import Iterator

import pytest

from tests.accessibility import WIDTHS
from tests.e2e.test_journeys import SCREENSHOTS, browser, portal, width  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots() -> Iterator[None]:
    """Each run's screenshots only: a step that is gone leaves no stale picture behind."""
    for each in WIDTHS:  # only the folders this run writes, never the whole E2E_SCREENSHOTS
        shutil.rmtree(SCREENSHOTS / f"{each}px", ignore_errors=True)
    yield
