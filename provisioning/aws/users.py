"""Onboarding in IAM: the user, its group membership, console password and access keys.

The IAM user carries tags naming the portal, the owner and the request that created it: a
re-run after a crash recognises "EntityAlreadyExists" as its own user, and anyone looking at
the account in AWS can tell who the user belongs to.
"""

from __future__ import annotations

import re
from typing import Any

from provisioning.aws.catalogue import ensure_group
from provisioning.aws.client import AwsError, call, gone, pages

OWNER_TAG = "portal:owner"
REQUEST_TAG = "portal:request-id"
MANAGED_BY_TAG = "portal:managed-by"
MANAGED_BY_VALUE = "iam-access-portal"
_TAG_VALUE_CHARACTERS = re.compile(r"[^\w\s.:/=+\-@]")


def tag_value(text: str) -> str:
    """`text` as an IAM tag value may hold it (a limited alphabet, at most 256 characters)."""
    return _TAG_VALUE_CHARACTERS.sub("_", text)[:256]


def ensure_user(user_name: str, *, owner_email: str, request_id: int) -> tuple[str, bool]:
    """The IAM user exists, tagged as the owner's. Returns (arn, created).

    An existing user counts as ours only if it carries the owner's tag; any other is someone
    else's, and the portal refuses to touch it."""
    tags = {
        MANAGED_BY_TAG: MANAGED_BY_VALUE,
        OWNER_TAG: tag_value(owner_email),
        REQUEST_TAG: str(request_id),
    }
    try:
        user = call(
            "CreateUser",
            UserName=user_name,
            Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
        )["User"]
        return user["Arn"], True
    except AwsError as error:
        if error.code != "EntityAlreadyExists":
            raise
        refusal = error
    user = call("GetUser", UserName=user_name)["User"]
    held = {tag["Key"]: tag["Value"] for tag in pages("ListUserTags", "Tags", UserName=user_name)}
    if held.get(OWNER_TAG) != tags[OWNER_TAG]:
        raise AwsError(
            "EntityAlreadyExists",
            f"an IAM user named {user_name} already exists and is not tagged as "
            f"{owner_email}'s, so the portal will not take it over",
            "CreateUser",
            transient=False,
            request_id=refusal.request_id,
        )
    return user["Arn"], False


def ensure_group_membership(user_name: str, group_name: str, *, policy_arns: list[str]) -> None:
    """The user is in the group. A group missing from AWS (the catalogue not yet synced) is
    created with its policies first."""
    try:
        call("AddUserToGroup", UserName=user_name, GroupName=group_name)
        return
    except AwsError as error:
        if error.code != "NoSuchEntity":
            raise
        missing = error
    try:
        call("GetGroup", GroupName=group_name, MaxItems=1)
    except AwsError as error:
        if error.code != "NoSuchEntity":
            raise
        ensure_group(group_name, policy_arns)
        call("AddUserToGroup", UserName=user_name, GroupName=group_name)
        return
    raise missing  # the group is there: it is the user that is missing


def account_password_policy() -> dict[str, Any] | None:
    """The account's password policy, or None when it has none (AWS's default applies)."""
    try:
        return call("GetAccountPasswordPolicy")["PasswordPolicy"]
    except AwsError as error:
        if gone(error):
            return None
        raise


def login_profile_exists(user_name: str) -> bool:
    try:
        call("GetLoginProfile", UserName=user_name)
    except AwsError as error:
        if gone(error):
            return False
        raise
    return True


def ensure_login_profile(user_name: str, password: str) -> bool:
    """The user signs in to the console with `password`, which must be changed at first
    sign-in. Returns True when the login profile was created, False when it was updated (a
    crash left one, or credentials are being re-issued). UpdateLoginProfile always carries the
    password: without one, moto deletes the profile."""
    try:
        call(
            "CreateLoginProfile",
            UserName=user_name,
            Password=password,
            PasswordResetRequired=True,
        )
        return True
    except AwsError as error:
        if error.code != "EntityAlreadyExists":
            raise
    update_login_profile(user_name, password)
    return False


def update_login_profile(user_name: str, password: str) -> None:
    """A new console password for an existing login profile, to be changed at first sign-in."""
    call("UpdateLoginProfile", UserName=user_name, Password=password, PasswordResetRequired=True)


def create_access_key(user_name: str) -> tuple[str, str]:
    """A new access key: (access key id, secret access key). The secret exists only here:
    AWS never shows it again, so the caller must seal it before anything else can fail."""
    key = call("CreateAccessKey", UserName=user_name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def access_key_ids(user_name: str) -> list[str]:
    return [
        key["AccessKeyId"]
        for key in pages("ListAccessKeys", "AccessKeyMetadata", UserName=user_name)
    ]


def delete_access_key(user_name: str, access_key_id: str) -> bool:
    """Delete one access key; False when it was already gone."""
    try:
        call("DeleteAccessKey", UserName=user_name, AccessKeyId=access_key_id)
    except AwsError as error:
        if gone(error):
            return False
        raise
    return True


def remove_user_from_group(user_name: str, group_name: str) -> bool:
    """The user is no longer in the group. False when it already was not (removed by a run
    that crashed, or by someone else; or the user or the group is gone)."""
    try:
        call("RemoveUserFromGroup", UserName=user_name, GroupName=group_name)
    except AwsError as error:
        if gone(error):
            return False
        raise
    return True
