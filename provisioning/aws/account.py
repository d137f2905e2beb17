"""The account as a whole: its credential report, summary and password policy, and the
account-wide lists that drift and compliance read (users, groups, policies).

A credential report is made on request and takes AWS a few seconds: `credential_report`
asks for one and reads it once it is ready, and past its patience raises a transient
"ReportInProgress" for the caller's retry.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from django.utils.dateparse import parse_datetime

from provisioning.aws.client import AwsError, call, gone, pages

ROOT_ROW = "<root_account>"
_REPORT_NOT_READY = {"ReportInProgress", "ReportNotPresent", "ReportExpired"}
ADMINISTRATOR_ACCESS_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"

# What the CIS AWS Foundations Benchmark asks of the password policy (and AWS's own advice
# for the rest): 14 characters or more, all four classes, no reuse of the last 24.
CIS_PASSWORD_POLICY: dict[str, Any] = {
    "MinimumPasswordLength": 14,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "AllowUsersToChangePassword": True,
    "PasswordReusePrevention": 24,
    "HardExpiry": False,
}


@dataclass(frozen=True)
class CredentialReportRow:
    """One line of the credential report (the root account's is `<root_account>`)."""

    user: str
    arn: str
    created: datetime | None
    password_enabled: bool
    password_last_used: datetime | None
    password_last_changed: datetime | None
    mfa_active: bool
    access_keys_active: tuple[bool, bool]
    access_keys_last_rotated: tuple[datetime | None, datetime | None]
    access_keys_last_used: tuple[datetime | None, datetime | None]

    @property
    def is_root(self) -> bool:
        return self.user == ROOT_ROW


def _when(value: str) -> datetime | None:
    # The report writes "N/A", "no_information" or "not_supported" where there is no date.
    return parse_datetime(value) if value and value[0].isdigit() else None


def _row(line: dict[str, str]) -> CredentialReportRow:
    return CredentialReportRow(
        user=line["user"],
        arn=line.get("arn", ""),
        created=_when(line.get("user_creation_time", "")),
        password_enabled=line.get("password_enabled") == "true",
        password_last_used=_when(line.get("password_last_used", "")),
        password_last_changed=_when(line.get("password_last_changed", "")),
        mfa_active=line.get("mfa_active") == "true",
        access_keys_active=(
            line.get("access_key_1_active") == "true",
            line.get("access_key_2_active") == "true",
        ),
        access_keys_last_rotated=(
            _when(line.get("access_key_1_last_rotated", "")),
            _when(line.get("access_key_2_last_rotated", "")),
        ),
        access_keys_last_used=(
            _when(line.get("access_key_1_last_used_date", "")),
            _when(line.get("access_key_2_last_used_date", "")),
        ),
    )


def credential_report(
    *, attempts: int = 10, wait_seconds: float = 1.0
) -> list[CredentialReportRow]:
    """A fresh credential report, parsed. Asks AWS to generate one and reads it once ready."""
    for attempt in range(attempts):
        state = call("GenerateCredentialReport").get("State", "")
        if state == "COMPLETE":
            try:
                content = call("GetCredentialReport")["Content"]
            except AwsError as error:
                if error.code not in _REPORT_NOT_READY:
                    raise
            else:
                text = content.decode() if isinstance(content, bytes) else str(content)
                return [_row(line) for line in csv.DictReader(io.StringIO(text))]
        if attempt < attempts - 1:
            time.sleep(wait_seconds)
    raise AwsError(
        "ReportInProgress",
        "the credential report is still being generated",
        "GetCredentialReport",
        transient=True,
    )


def account_summary() -> dict[str, int]:
    summary: dict[str, int] = call("GetAccountSummary")["SummaryMap"]
    return summary


def update_password_policy(policy: dict[str, Any]) -> None:
    call("UpdateAccountPasswordPolicy", **policy)


# --- Account-wide lists ----------------------------------------------------------------------


def user_names() -> list[str]:
    return sorted(user["UserName"] for user in pages("ListUsers", "Users"))


def user_tags(user_name: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in pages("ListUserTags", "Tags", UserName=user_name)}


def groups_of(user_name: str) -> list[str]:
    return [
        group["GroupName"] for group in pages("ListGroupsForUser", "Groups", UserName=user_name)
    ]


def attached_user_policies(user_name: str) -> list[str]:
    return [
        policy["PolicyArn"]
        for policy in pages("ListAttachedUserPolicies", "AttachedPolicies", UserName=user_name)
    ]


def inline_user_policies(user_name: str) -> list[str]:
    names: list[str] = pages("ListUserPolicies", "PolicyNames", UserName=user_name)
    return names


def group_names() -> list[str]:
    return sorted(group["GroupName"] for group in pages("ListGroups", "Groups"))


def attached_group_policies(group_name: str) -> list[str]:
    return [
        policy["PolicyArn"]
        for policy in pages("ListAttachedGroupPolicies", "AttachedPolicies", GroupName=group_name)
    ]


def _allows_everything(document: dict[str, Any]) -> bool:
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = actions if isinstance(actions, list) else [actions]
        resources = resources if isinstance(resources, list) else [resources]
        if statement.get("Effect") == "Allow" and "*" in actions and "*" in resources:
            return True
    return False


def policy_allows_everything(policy_arn: str) -> bool:
    """Whether the managed policy's default version allows "*" on "*" (full administrator).
    AWS's AdministratorAccess is known by name; a policy that cannot be read is not counted."""
    if policy_arn == ADMINISTRATOR_ACCESS_ARN:
        return True
    try:
        version = call("GetPolicy", PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        document = call("GetPolicyVersion", PolicyArn=policy_arn, VersionId=version)[
            "PolicyVersion"
        ]["Document"]
    except AwsError as error:
        if gone(error):
            return False
        raise
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return _allows_everything(document)
