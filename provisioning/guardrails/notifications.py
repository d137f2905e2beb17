"""The guardrails' emails: reminders and cuts to a credential's owner, a finished rotation,
new drift to the security admins. Links and dates, never a secret."""

from __future__ import annotations

from datetime import date
from typing import Any

from accounts.selectors import security_admin_emails
from common.emails import send_templated_email
from provisioning.models import IamAccount


def _owner(account: IamAccount) -> list[str]:
    return [account.owner.email]


def key_age_reminder(
    *, account: IamAccount, access_key_id: str, age_days: int, deactivate_on: date
) -> None:
    send_templated_email(
        "key_age_reminder",
        _owner(account),
        {
            "account": account,
            "access_key_id": access_key_id,
            "age_days": age_days,
            "deactivate_on": deactivate_on,
        },
    )


def key_age_deactivated(*, account: IamAccount, access_key_id: str, age_days: int) -> None:
    send_templated_email(
        "key_age_deactivated",
        _owner(account),
        {"account": account, "access_key_id": access_key_id, "age_days": age_days},
    )


def unused_warning(
    *, account: IamAccount, credential: str, idle_days: int, disable_on: date
) -> None:
    send_templated_email(
        "credentials_unused_warning",
        _owner(account),
        {
            "account": account,
            "console": credential == "console",
            "access_key_id": credential,
            "idle_days": idle_days,
            "disable_on": disable_on,
        },
    )


def unused_disabled(*, account: IamAccount, credential: str, idle_days: int) -> None:
    send_templated_email(
        "credentials_unused_disabled",
        _owner(account),
        {
            "account": account,
            "console": credential == "console",
            "access_key_id": credential,
            "idle_days": idle_days,
        },
    )


def key_rotation_finished(*, account: IamAccount, old_access_key_id: str, why: str) -> None:
    send_templated_email(
        "key_rotation_finished",
        _owner(account),
        {"account": account, "old_access_key_id": old_access_key_id, "why": why},
    )


def drift_found(*, findings: list[dict[str, Any]]) -> None:
    send_templated_email("drift_found", security_admin_emails(), {"findings": findings})
