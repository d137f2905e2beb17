"""What an IAM user holds right now, credential by credential, read live from IAM.

`CREDENTIAL_KINDS` lists what a user can hold in AWS's teardown order: the offboarding steps
and the verification report both follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from provisioning.aws.client import AwsError, call, gone, pages

# The portal's own deny-all policy (added when disabling an offboarded user): not something
# the leaver holds, so the counts leave it out.
DENY_ALL_POLICY_NAME = "PortalOffboardedDenyAll"
OFFBOARDED_TAG = "offboarded"

# What a user can hold, in teardown order; a report counts each of them.
CREDENTIAL_KINDS = (
    "login_profile",
    "access_keys",
    "signing_certificates",
    "ssh_public_keys",
    "service_specific_credentials",
    "mfa_devices",
    "inline_policies",
    "attached_policies",
    "groups",
    "permissions_boundary",
)


@dataclass
class AccessKeyInfo:
    access_key_id: str
    status: str
    created: datetime | None = None
    last_used: datetime | None = None
    last_used_service: str = ""
    last_used_region: str = ""


@dataclass
class MfaDeviceInfo:
    serial_number: str
    enabled: datetime | None = None

    @property
    def virtual(self) -> bool:
        # Hardware and U2F devices are identified by a serial; virtual ones by an IAM ARN.
        return self.serial_number.startswith("arn:") and ":mfa/" in self.serial_number


@dataclass
class UserInventory:
    """One IAM user as AWS has it right now, credential by credential."""

    user_name: str
    exists: bool
    arn: str = ""
    login_profile: bool = False
    login_profile_created: datetime | None = None
    access_keys: list[AccessKeyInfo] = field(default_factory=list)
    mfa_devices: list[MfaDeviceInfo] = field(default_factory=list)
    ssh_public_keys: list[str] = field(default_factory=list)
    signing_certificates: list[str] = field(default_factory=list)
    service_specific_credentials: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    inline_policies: list[str] = field(default_factory=list)
    attached_policies: list[str] = field(default_factory=list)
    permissions_boundary: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def deny_all_attached(self) -> bool:
        return DENY_ALL_POLICY_NAME in self.inline_policies

    def counts(self) -> dict[str, int]:
        """How many of each kind the user holds. The portal's own deny-all policy (added when
        disabling) is not something the leaver holds, so it is not counted."""
        return {
            "login_profile": int(self.login_profile),
            "access_keys": len(self.access_keys),
            "signing_certificates": len(self.signing_certificates),
            "ssh_public_keys": len(self.ssh_public_keys),
            "service_specific_credentials": len(self.service_specific_credentials),
            "mfa_devices": len(self.mfa_devices),
            "inline_policies": len(
                [name for name in self.inline_policies if name != DENY_ALL_POLICY_NAME]
            ),
            "attached_policies": len(self.attached_policies),
            "groups": len(self.groups),
            "permissions_boundary": int(bool(self.permissions_boundary)),
        }


def _fake_lacks_service_specific_credentials() -> bool:
    # moto implements no service-specific credentials (it answers with a server error), so on
    # the demo's fake nothing can have created one: there, "none" is the true answer. Tests
    # put a layer that simulates them (AWS_CLIENT_HOOK), so they make the call.
    return settings.AWS_IS_LOCAL_FAKE and not settings.AWS_CLIENT_HOOK


def _access_key_info(key: dict[str, Any]) -> AccessKeyInfo:
    info = AccessKeyInfo(key["AccessKeyId"], key.get("Status", ""), key.get("CreateDate"))
    used = call("GetAccessKeyLastUsed", AccessKeyId=info.access_key_id).get("AccessKeyLastUsed", {})
    info.last_used = used.get("LastUsedDate")
    info.last_used_service = used.get("ServiceName", "")
    info.last_used_region = used.get("Region", "")
    return info


def read_user(user_name: str) -> UserInventory:
    """Everything the user holds, read live. A user that does not exist has nothing."""
    try:
        user = call("GetUser", UserName=user_name)["User"]
        inventory = UserInventory(user_name=user_name, exists=True, arn=user.get("Arn", ""))
        inventory.permissions_boundary = user.get("PermissionsBoundary", {}).get(
            "PermissionsBoundaryArn", ""
        )
        try:
            profile = call("GetLoginProfile", UserName=user_name)["LoginProfile"]
            inventory.login_profile = True
            inventory.login_profile_created = profile.get("CreateDate")
        except AwsError as error:
            if not gone(error):
                raise
        inventory.access_keys = [
            _access_key_info(key)
            for key in pages("ListAccessKeys", "AccessKeyMetadata", UserName=user_name)
        ]
        inventory.mfa_devices = [
            MfaDeviceInfo(device["SerialNumber"], device.get("EnableDate"))
            for device in pages("ListMFADevices", "MFADevices", UserName=user_name)
        ]
        inventory.ssh_public_keys = [
            key["SSHPublicKeyId"]
            for key in pages("ListSSHPublicKeys", "SSHPublicKeys", UserName=user_name)
        ]
        inventory.signing_certificates = [
            cert["CertificateId"]
            for cert in pages("ListSigningCertificates", "Certificates", UserName=user_name)
        ]
        inventory.service_specific_credentials = service_specific_credential_ids(user_name)
        inventory.groups = [
            group["GroupName"] for group in pages("ListGroupsForUser", "Groups", UserName=user_name)
        ]
        inventory.inline_policies = pages("ListUserPolicies", "PolicyNames", UserName=user_name)
        inventory.attached_policies = [
            policy["PolicyArn"]
            for policy in pages("ListAttachedUserPolicies", "AttachedPolicies", UserName=user_name)
        ]
        inventory.tags = {
            tag["Key"]: tag["Value"] for tag in pages("ListUserTags", "Tags", UserName=user_name)
        }
    except AwsError as error:
        if gone(error):
            # Deleted while we were reading it (or never existed): it holds nothing.
            return UserInventory(user_name=user_name, exists=False)
        raise
    return inventory


def service_specific_credential_ids(user_name: str) -> list[str]:
    if _fake_lacks_service_specific_credentials():
        return []
    # Not paginated: AWS allows two per service per user.
    found = call("ListServiceSpecificCredentials", UserName=user_name)
    return [item["ServiceSpecificCredentialId"] for item in found["ServiceSpecificCredentials"]]


@dataclass
class UserActivity:
    """When the user last did something in AWS, as far as IAM knows (None: never, or not
    known: IAM keeps console sign-ins since 2014 and key use since 2015)."""

    exists: bool
    console_last_used: datetime | None = None
    access_key_last_used: datetime | None = None
    access_key_last_service: str = ""


def user_activity(user_name: str) -> UserActivity:
    """The console's last sign-in (GetUser's PasswordLastUsed) and the latest use of any of
    the user's access keys (GetAccessKeyLastUsed), read live."""
    try:
        user = call("GetUser", UserName=user_name)["User"]
        activity = UserActivity(exists=True, console_last_used=user.get("PasswordLastUsed"))
        for key in pages("ListAccessKeys", "AccessKeyMetadata", UserName=user_name):
            info = _access_key_info(key)
            if info.last_used and (
                activity.access_key_last_used is None
                or info.last_used > activity.access_key_last_used
            ):
                activity.access_key_last_used = info.last_used
                activity.access_key_last_service = info.last_used_service
    except AwsError as error:
        if gone(error):
            return UserActivity(exists=False)
        raise
    return activity
