"""The account scored against the CIS AWS Foundations Benchmark's IAM controls that apply to
IAM users and the root user, from GetCredentialReport, GetAccountSummary and
GetAccountPasswordPolicy (plus each user's and group's policies for the last two controls).

Each control passes or fails with what fails it and the fix. A snapshot keeps the result, so
the page reads the database (no AWS call while a person waits) and the score has a history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from provisioning import aws
from provisioning.guardrails.models import ComplianceSnapshot, GuardrailRun
from provisioning.models import RoleGroup

ROOT = "root user"


@dataclass
class Control:
    id: str
    title: str
    fix: str
    failing: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failing


def _older(when: datetime | None, days: int, now: datetime) -> bool:
    return when is not None and when < now - timedelta(days=days)


def _credentials_controls(
    report: list[aws.CredentialReportRow], summary: dict[str, int], now: datetime
) -> list[Control]:
    users = [row for row in report if not row.is_root]
    root = next((row for row in report if row.is_root), None)
    unused, rotate = settings.UNUSED_CREDENTIAL_DAYS, settings.KEY_MAX_AGE_DAYS
    root_keys = bool(summary.get("AccountAccessKeysPresent")) or bool(
        root and any(root.access_keys_active)
    )
    stale: list[str] = []
    for row in users:
        last = row.password_last_used or row.password_last_changed or row.created
        if row.password_enabled and _older(last, unused, now):
            stale.append(f"{row.user} (console password)")
        for number, active in enumerate(row.access_keys_active):
            used = row.access_keys_last_used[number] or row.access_keys_last_rotated[number]
            if active and _older(used, unused, now):
                stale.append(f"{row.user} (access key {number + 1})")
    return [
        Control(
            "1.4",
            "No access key exists for the root user",
            "Delete the root user's access keys (sign in as root, Security credentials); use "
            "IAM users or roles instead.",
            [ROOT] if root_keys else [],
        ),
        Control(
            "1.5",
            "MFA is enabled for the root user",
            "Sign in as root and assign an MFA device (a hardware key is best).",
            [] if summary.get("AccountMFAEnabled") else [ROOT],
        ),
        Control(
            "1.10",
            "MFA is enabled for every IAM user with a console password",
            "Each person sets up MFA from My access (or the reveal page).",
            [row.user for row in users if row.password_enabled and not row.mfa_active],
        ),
        Control(
            "1.12",
            f"Credentials unused for {unused} days or more are disabled",
            "The daily unused-credentials run disables them after a warning; until then, "
            "remove them by hand.",
            stale,
        ),
        Control(
            "1.13",
            "Each IAM user has at most one active access key",
            "Deactivate the key that is not in use, or finish its rotation.",
            [row.user for row in users if all(row.access_keys_active)],
        ),
        Control(
            "1.14",
            f"Access keys are rotated every {rotate} days or less",
            "Owners rotate from My access; keys past the age are deactivated by the daily run.",
            [
                f"{row.user} (access key {number + 1})"
                for row in users
                for number, active in enumerate(row.access_keys_active)
                if active and _older(row.access_keys_last_rotated[number], rotate, now)
            ],
        ),
    ]


def _password_controls(policy: dict[str, Any] | None) -> list[Control]:
    policy = policy or {}
    fix = "Set the CIS password policy (this page's button)."
    return [
        Control(
            "1.8",
            "The password policy requires at least 14 characters",
            fix,
            [] if int(policy.get("MinimumPasswordLength", 0)) >= 14 else ["password policy"],
        ),
        Control(
            "1.9",
            "The password policy prevents reusing the last 24 passwords",
            fix,
            [] if int(policy.get("PasswordReusePrevention", 0)) >= 24 else ["password policy"],
        ),
    ]


def _policy_controls(report: list[aws.CredentialReportRow]) -> list[Control]:
    direct: list[str] = []
    admin: list[str] = []
    allows_everything: dict[str, bool] = {}

    def everything(arn: str) -> bool:
        if arn not in allows_everything:
            allows_everything[arn] = aws.policy_allows_everything(arn)
        return allows_everything[arn]

    for row in report:
        if row.is_root:
            continue
        attached = aws.attached_user_policies(row.user)
        inline = [
            name for name in aws.inline_user_policies(row.user) if name != aws.DENY_ALL_POLICY_NAME
        ]
        if attached or inline:
            direct.append(row.user)
        admin += [f"user {row.user}" for arn in attached if everything(arn)]
    sensitive = set(
        RoleGroup.objects.filter(sensitive=True).values_list("iam_group_name", flat=True)
    )
    for group in aws.group_names():
        if group in sensitive:
            continue
        admin += [f"group {group}" for arn in aws.attached_group_policies(group) if everything(arn)]
    return [
        Control(
            "1.15",
            "IAM users receive permissions only through groups",
            "Detach the policies from the user; grant a catalogue role-group instead (the "
            "drift page removes them).",
            direct,
        ),
        Control(
            "1.16",
            'No policy allowing full "*:*" administration is attached to a user, or to a group '
            "outside a sensitive role-group",
            "Detach it; keep full administration in a sensitive role-group, which needs a "
            "second approval.",
            sorted(set(admin)),
        ),
    ]


def compliance_evaluate(*, now: datetime | None = None) -> list[Control]:
    now = now or timezone.now()
    report = aws.credential_report()
    controls = [
        *_credentials_controls(report, aws.account_summary(), now),
        *_password_controls(aws.account_password_policy()),
        *_policy_controls(report),
    ]
    return sorted(controls, key=lambda control: [int(part) for part in control.id.split(".")])


def compliance_snapshot(*, run: GuardrailRun | None = None) -> ComplianceSnapshot:
    """Score the account now and keep the result (audited)."""
    controls = compliance_evaluate()
    passed = sum(control.passed for control in controls)
    with transaction.atomic():
        snapshot = ComplianceSnapshot.objects.create(
            taken_at=timezone.now(),
            passed=passed,
            total=len(controls),
            controls=[{**asdict(control), "passed": control.passed} for control in controls],
            run=run,
        )
        audit.record(
            "compliance.scored",
            target=f"compliance_snapshot:{snapshot.pk}",
            data={
                "passed": passed,
                "total": len(controls),
                "failing": [control.id for control in controls if not control.passed],
            },
        )
    return snapshot
