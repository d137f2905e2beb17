# The browser and `make run` fixtures of the onboarding journey, for the other journeys too.
from tests.e2e.test_journeys import browser, portal, width  # noqa: F401
