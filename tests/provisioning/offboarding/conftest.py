from __future__ import annotations

from typing import Any

import pytest

from tests import strict_iam


@pytest.fixture
def strict(aws: None, settings: Any) -> strict_iam.StrictIam:
    """In-process moto behind the strict layer that refuses what AWS refuses (deletion order)
    and simulates what moto lacks."""
    return strict_iam.use_strict_iam(settings)
