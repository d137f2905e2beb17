"""Offboarding in IAM: taking a user apart in AWS's documented order.

AWS refuses DeleteUser (DeleteConflict) while the user still has any of these, and documents
removing them in this order: console password, access keys, signing certificates, SSH keys,
service-specific credentials, MFA devices, inline policies, attached policies, groups.
Each function is idempotent: "NoSuchEntity" means already removed (by us on a run that
crashed, or by someone else), and it returns what it removed this time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from provisioning.aws.client import AwsError, call, concurrently, gone, pages
from provisioning.aws.inventory import (
    DENY_ALL_POLICY_NAME,
    OFFBOARDED_TAG,
    MfaDeviceInfo,
    service_specific_credential_ids,
)

DENY_ALL_POLICY_DOCUMENT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "OffboardedDenyEverything", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ],
}
OFFBOARDED_BY_TAG = "offboarded-by"
OFFBOARDED_BY_VALUE = "access-portal"


def delete_login_profile(user_name: str) -> list[str]:
    """The console password goes first: it is the way in a person can use from anywhere."""
    try:
        call("DeleteLoginProfile", UserName=user_name)
    except AwsError as error:
        if gone(error):
            return []
        raise
    return ["console password"]


def _listed(operation: str, key: str, user_name: str) -> list[Any]:
    """A paginated list about the user; empty when the user is already gone."""
    try:
        return pages(operation, key, UserName=user_name)
    except AwsError as error:
        if gone(error):
            return []
        raise


def _removed(identifier: str, remove: Callable[[str], object]) -> bool:
    """Remove one thing: False when it was already gone (removed by someone else, not us)."""
    try:
        remove(identifier)
    except AwsError as error:
        if gone(error):
            return False
        raise
    return True


def _remove_each(
    identifiers: Iterable[str], remove: Callable[[str], object], *, at_once: bool = False
) -> list[str]:
    """Remove each thing, one after another or (`at_once`) all at the same time; what this
    call removed, in order."""
    ids = list(identifiers)
    if at_once:
        done = concurrently(*(functools.partial(_removed, i, remove) for i in ids))
    else:
        done = [_removed(i, remove) for i in ids]
    return [i for i, removed in zip(ids, done, strict=True) if removed]


def _access_keys(user_name: str) -> list[dict[str, Any]]:
    return _listed("ListAccessKeys", "AccessKeyMetadata", user_name)


def active_access_key_ids(user_name: str) -> list[str]:
    """The user's access keys that still work (none when the user is gone)."""
    return [k["AccessKeyId"] for k in _access_keys(user_name) if k.get("Status") != "Inactive"]


def deactivate_access_keys(user_name: str, *, key_ids: list[str] | None = None) -> list[str]:
    """Inactive at once, so a key stops working even if deleting it fails later: every key
    at the same time (`key_ids` when the caller has listed them already)."""
    return _remove_each(
        active_access_key_ids(user_name) if key_ids is None else key_ids,
        lambda key_id: call(
            "UpdateAccessKey", UserName=user_name, AccessKeyId=key_id, Status="Inactive"
        ),
        at_once=True,
    )


def delete_access_keys(user_name: str) -> list[str]:
    return _remove_each(
        (key["AccessKeyId"] for key in _access_keys(user_name)),
        lambda key_id: call("DeleteAccessKey", UserName=user_name, AccessKeyId=key_id),
    )


def delete_signing_certificates(user_name: str) -> list[str]:
    return _remove_each(
        (c["CertificateId"] for c in _listed("ListSigningCertificates", "Certificates", user_name)),
        lambda cert_id: call("DeleteSigningCertificate", UserName=user_name, CertificateId=cert_id),
    )


def delete_ssh_public_keys(user_name: str) -> list[str]:
    return _remove_each(
        (k["SSHPublicKeyId"] for k in _listed("ListSSHPublicKeys", "SSHPublicKeys", user_name)),
        lambda key_id: call("DeleteSSHPublicKey", UserName=user_name, SSHPublicKeyId=key_id),
    )


def delete_service_specific_credentials(user_name: str) -> list[str]:
    try:
        identifiers = service_specific_credential_ids(user_name)
    except AwsError as error:
        if not gone(error):
            raise
        identifiers = []
    return _remove_each(
        identifiers,
        lambda credential_id: call(
            "DeleteServiceSpecificCredential",
            UserName=user_name,
            ServiceSpecificCredentialId=credential_id,
        ),
    )


def remove_mfa_devices(
    user_name: str, known_virtual: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """Deactivate each device, then delete the virtual ones (AWS refuses to delete a virtual
    device while it is assigned). `known_virtual` are the virtual devices seen before teardown:
    a run that crashed between deactivating and deleting left them unassigned, where listing
    the user's devices no longer finds them."""
    try:
        devices = [
            MfaDeviceInfo(device["SerialNumber"])
            for device in pages("ListMFADevices", "MFADevices", UserName=user_name)
        ]
    except AwsError as error:
        if not gone(error):
            raise
        devices = []
    done = []
    for device in devices:
        try:
            call("DeactivateMFADevice", UserName=user_name, SerialNumber=device.serial_number)
        except AwsError as error:
            if not gone(error):
                raise
        done.append(device.serial_number)
    virtual = [d.serial_number for d in devices if d.virtual]
    virtual += [serial for serial in known_virtual if serial not in virtual]
    for serial in virtual:
        try:
            call("DeleteVirtualMFADevice", SerialNumber=serial)
        except AwsError as error:
            if gone(error):
                continue
            raise
        if serial not in done:
            done.append(serial)
    return done


def delete_inline_policies(user_name: str, *, keep: tuple[str, ...] = ()) -> list[str]:
    return _remove_each(
        (
            name
            for name in _listed("ListUserPolicies", "PolicyNames", user_name)
            if name not in keep
        ),
        lambda name: call("DeleteUserPolicy", UserName=user_name, PolicyName=name),
    )


def detach_user_policies(user_name: str) -> list[str]:
    return _remove_each(
        (
            p["PolicyArn"]
            for p in _listed("ListAttachedUserPolicies", "AttachedPolicies", user_name)
        ),
        lambda arn: call("DetachUserPolicy", UserName=user_name, PolicyArn=arn),
    )


def remove_from_groups(user_name: str) -> list[str]:
    return _remove_each(
        (group["GroupName"] for group in _listed("ListGroupsForUser", "Groups", user_name)),
        lambda group: call("RemoveUserFromGroup", UserName=user_name, GroupName=group),
    )


def delete_permissions_boundary(user_name: str) -> list[str]:
    try:
        user = call("GetUser", UserName=user_name)["User"]
    except AwsError as error:
        if gone(error):
            return []
        raise
    boundary = user.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn", "")
    if not boundary:
        return []
    try:
        call("DeleteUserPermissionsBoundary", UserName=user_name)
    except AwsError as error:
        if gone(error):
            return []
        raise
    return [boundary]


def delete_user(user_name: str) -> list[str]:
    try:
        call("DeleteUser", UserName=user_name)
    except AwsError as error:
        if gone(error):
            return []
        raise
    return [user_name]


def disable_user(user_name: str, *, on: date) -> list[str]:
    """Keep the user for retention, unable to do anything: a deny-all inline policy (which
    overrides any allow) and tags saying when and by whom it was offboarded. A user that is
    already gone has nothing left to lock."""
    try:
        call(
            "PutUserPolicy",
            UserName=user_name,
            PolicyName=DENY_ALL_POLICY_NAME,
            PolicyDocument=json.dumps(DENY_ALL_POLICY_DOCUMENT),
        )
    except AwsError as error:
        if gone(error):
            return []
        raise
    call(
        "TagUser",
        UserName=user_name,
        Tags=[
            {"Key": OFFBOARDED_TAG, "Value": on.isoformat()},
            {"Key": OFFBOARDED_BY_TAG, "Value": OFFBOARDED_BY_VALUE},
        ],
    )
    return [DENY_ALL_POLICY_NAME, f"{OFFBOARDED_TAG}={on.isoformat()}"]
