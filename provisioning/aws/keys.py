"""Access keys for the guardrails: their age and last use, and switching one off.

Creating and deleting a key is onboarding's (users.py); these read what rotation, the key-age
policy and the unused-credential cut decide on, and deactivate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from provisioning.aws.client import AwsError, call, gone, pages


@dataclass(frozen=True)
class AccessKeyState:
    access_key_id: str
    active: bool
    created: datetime
    last_used: datetime | None


def access_key_last_used(access_key_id: str) -> datetime | None:
    used = call("GetAccessKeyLastUsed", AccessKeyId=access_key_id).get("AccessKeyLastUsed", {})
    last: datetime | None = used.get("LastUsedDate")
    return last


def access_keys_of(user_name: str, *, with_last_use: bool = True) -> list[AccessKeyState]:
    """The user's keys, oldest first; an absent user has none."""
    try:
        listed = pages("ListAccessKeys", "AccessKeyMetadata", UserName=user_name)
    except AwsError as error:
        if gone(error):
            return []
        raise
    keys = [
        AccessKeyState(
            access_key_id=key["AccessKeyId"],
            active=key.get("Status") == "Active",
            created=key["CreateDate"],
            last_used=access_key_last_used(key["AccessKeyId"]) if with_last_use else None,
        )
        for key in listed
    ]
    return sorted(keys, key=lambda key: key.created)


def deactivate_access_key(user_name: str, access_key_id: str) -> bool:
    """The key stops working (it can be made active again). False when it is gone."""
    try:
        call("UpdateAccessKey", UserName=user_name, AccessKeyId=access_key_id, Status="Inactive")
    except AwsError as error:
        if gone(error):
            return False
        raise
    return True
