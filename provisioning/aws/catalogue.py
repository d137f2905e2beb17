"""The catalogue in IAM: the portal's MFA policy and each role-group's IAM group."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from provisioning.aws.client import AwsError, call, pages

# AWS's documented "BlockMostAccessUnlessSignedInWithMFA": a person may manage their own MFA
# device and password, and nothing else, until they sign in with MFA.
MFA_POLICY_NAME = "PortalRequireMFA"
MFA_POLICY_DOCUMENT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "AllowManageOwnPasswords",
            "Effect": "Allow",
            "Action": ["iam:ChangePassword", "iam:GetUser"],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice"],
            "Resource": "arn:aws:iam::*:mfa/*",
        },
        {
            "Sid": "AllowManageOwnUserMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
                "iam:ChangePassword",
                "iam:GetAccountPasswordPolicy",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}


def ensure_mfa_policy(account_id: str) -> tuple[str, bool]:
    """The customer-managed MFA policy exists with our document. Returns (arn, changed)."""
    arn = f"arn:aws:iam::{account_id}:policy/{MFA_POLICY_NAME}"
    try:
        call(
            "CreatePolicy",
            PolicyName=MFA_POLICY_NAME,
            PolicyDocument=json.dumps(MFA_POLICY_DOCUMENT),
            Description="Deny all but MFA self-service until signed in with MFA (portal)",
        )
        return arn, True
    except AwsError as error:
        if error.code != "EntityAlreadyExists":
            raise
    version = call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = call("GetPolicyVersion", PolicyArn=arn, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    if isinstance(document, str):
        document = json.loads(unquote(document))
    if document == MFA_POLICY_DOCUMENT:
        return arn, False
    versions = call("ListPolicyVersions", PolicyArn=arn)["Versions"]
    old = [v for v in versions if not v["IsDefaultVersion"]]
    if len(versions) >= 5 and old:
        oldest = min(old, key=lambda v: v["CreateDate"])
        call("DeletePolicyVersion", PolicyArn=arn, VersionId=oldest["VersionId"])
    call(
        "CreatePolicyVersion",
        PolicyArn=arn,
        PolicyDocument=json.dumps(MFA_POLICY_DOCUMENT),
        SetAsDefault=True,
    )
    return arn, True


def ensure_group(group_name: str, policy_arns: list[str]) -> list[str]:
    """The IAM group exists with exactly these managed policies. Returns what changed."""
    changes: list[str] = []
    try:
        call("CreateGroup", GroupName=group_name)
        changes.append(f"created group {group_name}")
    except AwsError as error:
        if error.code != "EntityAlreadyExists":
            raise
    attached = {
        p["PolicyArn"]
        for p in pages("ListAttachedGroupPolicies", "AttachedPolicies", GroupName=group_name)
    }
    for arn in sorted(set(policy_arns) - attached):
        call("AttachGroupPolicy", GroupName=group_name, PolicyArn=arn)
        changes.append(f"attached {arn} to {group_name}")
    for arn in sorted(attached - set(policy_arns)):
        call("DetachGroupPolicy", GroupName=group_name, PolicyArn=arn)
        changes.append(f"detached {arn} from {group_name}")
    return changes


def mfa_policy_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{MFA_POLICY_NAME}"


def policy_exists(arn: str) -> bool:
    """Whether AWS knows this managed policy (a typo in the catalogue is found here)."""
    try:
        call("GetPolicy", PolicyArn=arn)
    except AwsError as error:
        if error.code == "NoSuchEntity":
            return False
        raise
    return True


def attach_missing_group_policies(group_name: str, policy_arns: list[str]) -> list[str]:
    """The group holds at least these managed policies (others it holds are left alone).
    Returns the ones attached now; AWS refuses an ARN that does not exist (NoSuchEntity)."""
    attached = {
        p["PolicyArn"]
        for p in pages("ListAttachedGroupPolicies", "AttachedPolicies", GroupName=group_name)
    }
    missing = [arn for arn in policy_arns if arn not in attached]
    for arn in missing:
        call("AttachGroupPolicy", GroupName=group_name, PolicyArn=arn)
    return missing
