from __future__ import annotations

from typing import Any

import pytest

from tests.provisioning.strict_onboarding import StrictOnboarding, use_strict_onboarding


@pytest.fixture
def strict(aws: None, settings: Any) -> StrictOnboarding:
    """In-process moto with the onboarding layer that checks what moto lets pass
    (offboarding's tests use the stricter teardown layer instead: see its conftest)."""
    return use_strict_onboarding(settings)
