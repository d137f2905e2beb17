from __future__ import annotations

from typing import Any

import pytest

from tests.factories import RoleGroupFactory


@pytest.fixture
def developers(db: None) -> Any:
    return RoleGroupFactory(name="Developers (test)")
