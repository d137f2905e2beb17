"""Onboarding tests' helpers: a strict layer over moto, and approved requests made directly.

moto ignores `PasswordResetRequired`, enforces no password policy, and treats
`UpdateLoginProfile` without `Password` as a delete. AWS enforces the account's password policy
(PasswordPolicyViolation). The layer (a botocore `before-call` handler on the portal's IAM
client) refuses what AWS would refuse, refuses the call moto would misread, and records every
call's parameters so tests can assert what was actually sent.

Switch it on with `use_strict_onboarding(settings)`.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.awsrequest
import botocore.config

from provisioning.credentials.passwords import PasswordPolicy
from provisioning.models import AccessRequest
from tests.factories import AccessRequestFactory, RoleGroupFactory

HOOK = "tests.provisioning.strict_onboarding.install"


def _error(code: str, message: str, status: int = 400) -> tuple[Any, dict[str, Any]]:
    parsed = {
        "Error": {"Code": code, "Message": message, "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "strict-onboarding"},
    }
    return botocore.awsrequest.AWSResponse(None, status, {}, None), parsed


class StrictOnboarding:
    def __init__(self, client: Any) -> None:
        # A plain client to read moto's state without going through the portal's hooks.
        self.inspector = boto3.session.Session().client(
            "iam",
            endpoint_url=client.meta.endpoint_url
            if "amazonaws.com" not in client.meta.endpoint_url
            else None,
            region_name=client.meta.region_name,
            config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _before_call(self, model: Any = None, params: Any = None, **_: Any) -> Any:
        body = params.get("body", {}) if isinstance(params, dict) else {}
        body = dict(body) if isinstance(body, dict) else {}
        body.pop("Action", None)
        body.pop("Version", None)
        self.calls.append((model.name, body))
        if model.name == "UpdateLoginProfile" and "Password" not in body:
            return _error(
                "StrictLayerRefused", "UpdateLoginProfile without Password: moto would delete it"
            )
        if model.name in {"CreateLoginProfile", "UpdateLoginProfile"}:
            problems = self.policy().problems(body.get("Password", ""))
            if problems:
                return _error(
                    "PasswordPolicyViolation",
                    "Password does not conform to the account password policy: "
                    + ", ".join(problems),
                )
        return None

    def policy(self) -> PasswordPolicy:
        try:
            policy = self.inspector.get_account_password_policy()["PasswordPolicy"]
        except self.inspector.exceptions.NoSuchEntityException:
            policy = None
        return PasswordPolicy.from_aws(policy)

    def sent(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every `operation` call the portal made, in order."""
        return [params for name, params in self.calls if name == operation]

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


def install(client: Any) -> None:
    if client.meta.service_model.service_name == "iam":
        layer = StrictOnboarding(client)
        client.meta.events.register("before-call.iam", layer._before_call)
        client._strict_onboarding = layer


def use_strict_onboarding(settings: Any) -> StrictOnboarding:
    from provisioning import aws

    settings.AWS_CLIENT_HOOK = HOOK
    aws.reset_clients()
    return aws.client()._strict_onboarding


# --- Approved requests ----------------------------------------------------------------------


def approved_request(
    requester: Any,
    *,
    access_type: str = AccessRequest.AccessType.BOTH,
    role_group: Any = "new",
    iam_user_name: str | None = None,
    **fields: Any,
) -> AccessRequest:
    """An approved request, as the requests service leaves it (IAM user name decided)."""
    if role_group == "new":
        # moto has no AWS managed policies loaded: a group without any is created as it is.
        role_group = RoleGroupFactory(managed_policy_arns=[])
    return AccessRequestFactory(
        requester=requester,
        role_group=role_group,
        access_type=access_type,
        justification="Needs access for the quarterly data migration work.",
        status=AccessRequest.Status.APPROVED,
        iam_user_name=iam_user_name or requester.email.split("@")[0].replace("+", "."),
        **fields,
    )
