from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from provisioning import aws as gateway
from provisioning.models import IamAccount
from tests.factories import AccessKeyRecordFactory, IamAccountFactory
from tests.strict_iam import StrictIam, use_strict_iam


@pytest.fixture
def strict(aws: None, settings: Any) -> StrictIam:
    """In-process moto under the strict layer (MFA codes checked, report in progress, root)."""
    return use_strict_iam(settings)


def make_iam_user(
    owner: Any, user_name: str, *, key: bool = True, console: bool = False
) -> IamAccount:
    """An IAM user the portal made for `owner`, in moto and in the portal's records."""
    arn = gateway.call("CreateUser", UserName=user_name)["User"]["Arn"]
    account = IamAccountFactory(owner=owner, user_name=user_name, arn=arn)
    if key:
        key_id, _ = gateway.create_access_key(user_name)
        AccessKeyRecordFactory(iam_account=account, access_key_id=key_id)
    if console:
        gateway.call("CreateLoginProfile", UserName=user_name, Password="Initial-pass-12345!")
    return account


@pytest.fixture
def employee_account(strict: StrictIam, employee: Any) -> IamAccount:
    return make_iam_user(employee, "employee")


def signed_in(person: Any) -> Client:
    client = Client()
    client.force_login(person)
    return client
