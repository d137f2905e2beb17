"""Credentials unused for UNUSED_CREDENTIAL_DAYS are disabled, after a warning
UNUSED_WARNING_DAYS before (the daily unused-credentials run).

- Console passwords: `password_last_used` from the credential report (never used: since the
  password was set). Disabled means the login profile is deleted.
- Access keys: GetAccessKeyLastUsed (never used: since the key was made). Disabled means the
  key is deactivated.
A warning is keyed by the credential and the day it was last used, so a credential used again
and then left idle once more is warned again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from provisioning import aws
from provisioning.guardrails import notifications
from provisioning.guardrails.models import GuardrailNotice
from provisioning.guardrails.notices import notice_once
from provisioning.models import AccessKeyRecord, IamAccount

Kind = GuardrailNotice.Kind
CONSOLE = "console"


def _idle(account: IamAccount, credential: str, last: datetime, now: datetime) -> tuple[int, str]:
    idle = (now - last).days
    return idle, f"{account.pk}:{credential}:{last.date().isoformat()}"


def _warn(account: IamAccount, credential: str, idle: int, streak: str, last: datetime) -> bool:
    disable_on = (last + timedelta(days=settings.UNUSED_CREDENTIAL_DAYS)).date()
    return notice_once(
        account=account,
        kind=Kind.UNUSED_WARNING,
        key=f"unused-warning:{streak}",
        credential=credential,
        action="guardrail.unused.warned",
        data={"idle_days": idle, "disable_on": disable_on},
        email=lambda: notifications.unused_warning(
            account=account, credential=credential, idle_days=idle, disable_on=disable_on
        ),
    )


def _record_disabled(
    account: IamAccount, credential: str, idle: int, streak: str, calls: aws.CallLog
) -> bool:
    return notice_once(
        account=account,
        kind=Kind.UNUSED_DISABLED,
        key=f"unused-disabled:{streak}",
        credential=credential,
        action="iam.login_profile.deleted"
        if credential == CONSOLE
        else "iam.access_key.deactivated",
        data={
            "reason": f"unused for {idle} days",
            "idle_days": idle,
            "aws_request_ids": calls.request_ids,
            **({} if credential == CONSOLE else {"access_key_id": credential}),
        },
        email=lambda: notifications.unused_disabled(
            account=account, credential=credential, idle_days=idle
        ),
    )


def _record_usage(
    account: IamAccount,
    report_row: aws.CredentialReportRow | None,
    keys: list[aws.AccessKeyState],
    now: datetime,
) -> None:
    """What AWS says exists and when it was last used, for the person's own page."""
    IamAccount.objects.filter(pk=account.pk).update(
        console_password=bool(report_row and report_row.password_enabled),
        console_last_used_at=report_row.password_last_used if report_row else None,
        usage_checked_at=now,
    )
    for key in keys:
        AccessKeyRecord.objects.filter(iam_account=account, access_key_id=key.access_key_id).update(
            active=key.active, last_used_at=key.last_used
        )


def unused_check_account(
    *, account: IamAccount, report_row: aws.CredentialReportRow | None, now: datetime
) -> dict[str, int]:
    """Warn about, or disable, the account's idle console password and access keys."""
    counts = {"warned": 0, "disabled": 0}
    cut = settings.UNUSED_CREDENTIAL_DAYS
    warn_from = cut - settings.UNUSED_WARNING_DAYS
    idle_credentials: list[tuple[str, datetime]] = []
    if report_row is not None and report_row.password_enabled:
        last = (
            report_row.password_last_used or report_row.password_last_changed or report_row.created
        )
        if last is not None:
            idle_credentials.append((CONSOLE, last))
    keys = aws.access_keys_of(account.user_name)
    _record_usage(account, report_row, keys, now)
    for key in keys:
        if key.active:
            idle_credentials.append((key.access_key_id, key.last_used or key.created))
    for credential, last in idle_credentials:
        idle, streak = _idle(account, credential, last, now)
        if idle >= cut:
            with aws.recording() as calls:
                if credential == CONSOLE:
                    aws.delete_login_profile(account.user_name)
                else:
                    aws.deactivate_access_key(account.user_name, credential)
            if credential == CONSOLE:
                IamAccount.objects.filter(pk=account.pk).update(console_password=False)
            else:
                AccessKeyRecord.objects.filter(access_key_id=credential).update(active=False)
            counts["disabled"] += _record_disabled(account, credential, idle, streak, calls)
        elif idle >= warn_from:
            counts["warned"] += _warn(account, credential, idle, streak, last)
    return counts
