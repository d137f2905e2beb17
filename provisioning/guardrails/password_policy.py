"""Setting the account's password policy to the CIS values (a security admin, after a
confirm step)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

import audit
from accounts import roles
from accounts.models import User
from provisioning import aws
from provisioning.errors import PortalError


def password_policy_current() -> dict[str, Any] | None:
    """The policy as AWS has it (None: AWS's default applies). One short attempt."""
    with aws.quick_calls():
        return aws.account_password_policy()


def password_policy_set_cis(*, actor: User, ip: str | None = None) -> dict[str, Any]:
    if not actor.has_perm(roles.OPERATE_PROVISIONING):
        raise PortalError("Only security admins change the account's password policy.")
    try:
        with aws.recording() as calls:
            before = aws.account_password_policy()
            aws.update_password_policy(aws.CIS_PASSWORD_POLICY)
    except aws.AwsError as error:
        raise PortalError(f"AWS refused to set the password policy: {error.message}") from None
    with transaction.atomic():
        audit.record(
            "iam.password_policy.updated",
            actor=actor,
            target="aws_account",
            data={
                "before": before,
                "after": aws.CIS_PASSWORD_POLICY,
                "aws_request_ids": calls.request_ids,
            },
            ip=ip,
        )
    return dict(aws.CIS_PASSWORD_POLICY)
