from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest


@functools.cache
def _aws_managed_policies_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def _managed_policies_of_the_aws_partition(backend: Any) -> list[Any]:
    """moto's `IAMBackend._init_aws_policies`, for the one partition the portal calls. moto
    builds an IAM backend for every partition (six, twice) and parses AWS's 1,500 managed
    policies from 7 MB of JSON into each: 2-3 s a test. The policies are the same ones."""
    from moto.iam.models import AWSManagedPolicy
    from moto.settings import load_iam_aws_managed_policies

    if not load_iam_aws_managed_policies() or backend.partition != "aws":
        return []
    return [
        AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
        for name, data in _aws_managed_policies_data().items()
    ]


@pytest.fixture
def load_aws_managed_policies(monkeypatch: pytest.MonkeyPatch, request: Any) -> None:
    """In-process moto knowing AWS's managed policies (ReadOnlyAccess...), as a real account
    does: attaching an ARN that does not exist fails as it would in AWS."""
    from moto.iam.models import IAMBackend

    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    monkeypatch.setattr(IAMBackend, "_init_aws_policies", _managed_policies_of_the_aws_partition)
    request.getfixturevalue("aws")


@pytest.fixture(autouse=True)
def aws_with_managed_policies(load_aws_managed_policies: None) -> Iterator[None]:
    """The catalogue checks every policy ARN against AWS when saving: in-process moto with
    AWS's managed policies loaded, as the real account has them."""
    # An account the catalogue has never been synced to: no portal MFA policy yet.
    from provisioning import aws as gateway

    account = gateway.whoami().account
    gateway.call("DeletePolicy", PolicyArn=gateway.mfa_policy_arn(account))
    yield
