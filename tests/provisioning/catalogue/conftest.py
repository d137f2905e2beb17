from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def aws_with_managed_policies(monkeypatch: pytest.MonkeyPatch, request: Any) -> Iterator[None]:
    """The catalogue checks every policy ARN against AWS when saving: in-process moto with
    AWS's managed policies loaded, as the real account has them."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    request.getfixturevalue("aws")
    # An account the catalogue has never been synced to: no portal MFA policy yet.
    from provisioning import aws as gateway

    account = gateway.whoami().account
    gateway.call("DeletePolicy", PolicyArn=gateway.mfa_policy_arn(account))
    yield
