"""The AWS boundary: the only module that imports boto3/botocore.

Small, intent-level, idempotent functions. `EntityAlreadyExists` on create and `NoSuchEntity`
on delete count as "already done". Errors leave this module as `AwsError` with a `transient`
flag, so callers decide between retry and failure without knowing botocore.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
from django.conf import settings

logger = logging.getLogger(__name__)

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

_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceFailure",
    "InternalFailure",
    "RequestTimeout",
    "ConcurrentModification",
}


@dataclass
class AwsError(Exception):
    """An AWS call failed. `transient` errors are worth retrying; the rest need a person."""

    code: str
    message: str
    operation: str = ""
    transient: bool = False
    request_id: str = ""

    def __str__(self) -> str:
        where = f" during {self.operation}" if self.operation else ""
        return f"AWS refused{where}: {self.code}: {self.message}"


@dataclass
class CallerIdentity:
    account: str
    arn: str
    user_id: str

    @property
    def is_root(self) -> bool:
        return self.arn.endswith(":root")


@dataclass
class CallLog:
    """The AWS request ids of the calls a step made, for its audit row."""

    request_ids: list[str] = field(default_factory=list)


_local = threading.local()
_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def _config() -> botocore.config.Config:
    return botocore.config.Config(
        region_name=settings.AWS_REGION,
        retries={"mode": "standard", "max_attempts": settings.AWS_MAX_ATTEMPTS},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
    )


def client(service: str = "iam") -> Any:
    """A cached boto3 client built from settings (region, optional endpoint, retries)."""
    key = (service, settings.AWS_REGION, settings.AWS_ENDPOINT_URL)
    with _clients_lock:
        if key not in _clients:
            session = boto3.session.Session()
            made = session.client(
                service, endpoint_url=settings.AWS_ENDPOINT_URL or None, config=_config()
            )
            made.meta.events.register("after-call", _remember_request_id)
            made.meta.events.register("before-call", _inject_fault)
            _install_client_hook(made)
            _clients[key] = made
        return _clients[key]


def _install_client_hook(made: Any) -> None:
    """Tests put a strict layer over moto on every client (settings.AWS_CLIENT_HOOK, a dotted
    path to a function taking the client); only the test settings ever set it."""
    path = getattr(settings, "AWS_CLIENT_HOOK", "")
    if not path:
        return
    if settings.PRODUCTION:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("AWS_CLIENT_HOOK is a test seam; it must not be set here")
    from django.utils.module_loading import import_string

    import_string(path)(made)


def reset_clients() -> None:
    """Forget cached clients (tests change the endpoint between runs)."""
    with _clients_lock:
        _clients.clear()


def _remember_request_id(http_response: Any = None, parsed: Any = None, **_: Any) -> None:
    log = getattr(_local, "call_log", None)
    if log is not None and isinstance(parsed, dict):
        request_id = parsed.get("ResponseMetadata", {}).get("RequestId")
        if request_id:
            log.request_ids.append(request_id)


class recording:
    """`with aws.recording() as calls:` collects the AWS request ids of the calls inside."""

    def __enter__(self) -> CallLog:
        self.previous = getattr(_local, "call_log", None)
        _local.call_log = CallLog()
        return _local.call_log

    def __exit__(self, *exc: object) -> None:
        _local.call_log = self.previous


# --- Fault injection (tests only) ----------------------------------------------------------
#
# AWS_FAULT_INJECTION is a ";"-separated list of rules, read from settings on every call:
#   "after:CreateUser:sleep=30"   sleep after that operation succeeds (so a test can SIGKILL)
#   "before:CreateUser:throttle=2" raise Throttling the first 2 times that operation is called
#   "before:CreateUser:error=LimitExceeded"  always fail that operation with that code
# Settings never set it in production (portal/settings.py).

_fault_counts: dict[str, int] = {}


def _rules(when: str, operation: str) -> Iterator[tuple[str, str]]:
    spec = getattr(settings, "AWS_FAULT_INJECTION", "")
    for rule in filter(None, (part.strip() for part in spec.split(";"))):
        rule_when, rule_op, action = rule.split(":", 2)
        if rule_when == when and rule_op == operation:
            name, _, value = action.partition("=")
            yield name, value


def _inject_fault(model: Any = None, **_: Any) -> dict[str, Any] | None:
    operation = model.name if model is not None else ""
    for name, value in _rules("before", operation):
        if name == "throttle":
            seen = _fault_counts.get(operation, 0)
            if seen < int(value):
                _fault_counts[operation] = seen + 1
                return _fake_error("Throttling", "Rate exceeded (injected)", 400)
        elif name == "error":
            return _fake_error(value, f"{value} (injected)", 409)
    return None


def _fake_error(code: str, message: str, status: int) -> tuple[Any, dict[str, Any]]:
    # A before-call handler that returns (http_response, parsed) short-circuits the request;
    # botocore then raises ClientError (and its retry handler sees "Throttling" as it would).
    import botocore.awsrequest

    response = botocore.awsrequest.AWSResponse(None, status, {}, None)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected"},
    }
    return response, parsed


def _after(operation: str) -> None:
    for name, value in _rules("after", operation):
        if name == "sleep":
            logger.warning("fault injection: sleeping %ss after %s", value, operation)
            time.sleep(float(value))


def reset_faults() -> None:
    _fault_counts.clear()


# --- Calling -------------------------------------------------------------------------------


def call(operation: str, service: str = "iam", **params: Any) -> dict[str, Any]:
    """Call one AWS operation, translating botocore's errors into AwsError."""
    method = getattr(client(service), _snake(operation))
    try:
        result = method(**params)
    except botocore.exceptions.ClientError as error:
        raise _translate(error, operation) from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectionClosedError,
        botocore.exceptions.ReadTimeoutError,
        botocore.exceptions.ConnectTimeoutError,
    ) as error:
        raise AwsError("ConnectionError", str(error), operation, transient=True) from None
    except botocore.exceptions.NoCredentialsError:
        raise AwsError(
            "NoCredentials", "no AWS credentials are configured", operation, transient=False
        ) from None
    _after(operation)
    return result


def _snake(operation: str) -> str:
    return botocore.xform_name(operation)


def _translate(error: botocore.exceptions.ClientError, operation: str) -> AwsError:
    info = error.response.get("Error", {})
    meta = error.response.get("ResponseMetadata", {})
    code = info.get("Code", "Unknown")
    status = meta.get("HTTPStatusCode", 0)
    return AwsError(
        code=code,
        message=info.get("Message", ""),
        operation=operation,
        transient=code in _TRANSIENT_CODES or status >= 500,
        request_id=meta.get("RequestId", ""),
    )


def pages(operation: str, key: str, service: str = "iam", **params: Any) -> list[Any]:
    """Every item of a paginated list operation."""
    items: list[Any] = []
    marker: str | None = None
    while True:
        page = call(operation, service, **params, **({"Marker": marker} if marker else {}))
        items.extend(page.get(key, []))
        if not page.get("IsTruncated"):
            return items
        marker = page["Marker"]


# --- Identity ------------------------------------------------------------------------------


def whoami(*, quick: bool = False) -> CallerIdentity:
    """Who the portal's credentials are. `quick` makes one short attempt (health, checks)."""
    if quick:
        config = botocore.config.Config(
            region_name=settings.AWS_REGION,
            retries={"mode": "standard", "max_attempts": 1},
            connect_timeout=2,
            read_timeout=3,
        )
        sts = boto3.session.Session().client(
            "sts", endpoint_url=settings.AWS_ENDPOINT_URL or None, config=config
        )
        try:
            identity = sts.get_caller_identity()
        except botocore.exceptions.ClientError as error:
            raise _translate(error, "GetCallerIdentity") from None
        except (botocore.exceptions.BotoCoreError, OSError) as error:
            raise AwsError("ConnectionError", str(error), "GetCallerIdentity", True) from None
    else:
        identity = call("GetCallerIdentity", service="sts")
    return CallerIdentity(
        account=identity["Account"], arn=identity["Arn"], user_id=identity["UserId"]
    )


def console_signin_url(account_id: str) -> str:
    return f"https://{account_id}.signin.aws.amazon.com/console"


# --- Catalogue: groups and policies ---------------------------------------------------------


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
        from urllib.parse import unquote

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


# --- Onboarding: the IAM user, its group, console password and access key --------------------
#
# The IAM user carries tags naming the portal, the owner and the request that created it: a
# re-run after a crash recognises "EntityAlreadyExists" as its own user, and anyone looking at
# the account in AWS can tell who the user belongs to.

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
        if error.code == "NoSuchEntity":
            return None
        raise


def login_profile_exists(user_name: str) -> bool:
    try:
        call("GetLoginProfile", UserName=user_name)
    except AwsError as error:
        if error.code == "NoSuchEntity":
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
        if error.code == "NoSuchEntity":
            return False
        raise
    return True


class _WithholdCredentialBodies(logging.Filter):
    """botocore logs whole request and response bodies at DEBUG. Those of CreateLoginProfile,
    UpdateLoginProfile and CreateAccessKey carry a password or a secret key, which must never
    reach a log, whatever level an operator turns on."""

    MARKERS = ("Password", "SecretAccessKey")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if any(marker in message for marker in self.MARKERS):
            record.msg = "[%s withheld: it carries credentials]"
            record.args = (record.name,)
        return True


for _logger_name in ("botocore.endpoint", "botocore.parsers", "botocore.auth", "botocore.hooks"):
    logging.getLogger(_logger_name).addFilter(_WithholdCredentialBodies())


# --- Offboarding: everything an IAM user holds, and taking it apart in AWS's order ----------
#
# AWS refuses DeleteUser (DeleteConflict) while the user still has any of these, and documents
# removing them in this order: console password, access keys, signing certificates, SSH keys,
# service-specific credentials, MFA devices, inline policies, attached policies, groups.
# Each teardown function is idempotent: "NoSuchEntity" means already removed (by us on a run
# that crashed, or by someone else), and it returns what it removed this time.

DENY_ALL_POLICY_NAME = "PortalOffboardedDenyAll"
DENY_ALL_POLICY_DOCUMENT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "OffboardedDenyEverything", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ],
}
OFFBOARDED_TAG = "offboarded"
OFFBOARDED_BY_TAG = "offboarded-by"
OFFBOARDED_BY_VALUE = "access-portal"

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


def _gone(error: AwsError) -> bool:
    return error.code == "NoSuchEntity"


def _fake_lacks_service_specific_credentials() -> bool:
    # moto implements no service-specific credentials (it answers with a server error), so on
    # the demo's fake nothing can have created one: there, "none" is the true answer. Tests
    # put a layer that simulates them (AWS_CLIENT_HOOK), so they make the call.
    return settings.AWS_IS_LOCAL_FAKE and not getattr(settings, "AWS_CLIENT_HOOK", "")


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
            if not _gone(error):
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
        inventory.service_specific_credentials = _service_specific_credential_ids(user_name)
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
        if _gone(error):
            # Deleted while we were reading it (or never existed): it holds nothing.
            return UserInventory(user_name=user_name, exists=False)
        raise
    return inventory


def _service_specific_credential_ids(user_name: str) -> list[str]:
    if _fake_lacks_service_specific_credentials():
        return []
    # Not paginated: AWS allows two per service per user.
    found = call("ListServiceSpecificCredentials", UserName=user_name)
    return [item["ServiceSpecificCredentialId"] for item in found["ServiceSpecificCredentials"]]


def delete_login_profile(user_name: str) -> list[str]:
    """The console password goes first: it is the way in a person can use from anywhere."""
    try:
        call("DeleteLoginProfile", UserName=user_name)
    except AwsError as error:
        if _gone(error):
            return []
        raise
    return ["console password"]


def _listed(operation: str, key: str, user_name: str) -> list[Any]:
    """A paginated list about the user; empty when the user is already gone."""
    try:
        return pages(operation, key, UserName=user_name)
    except AwsError as error:
        if _gone(error):
            return []
        raise


def _remove_each(identifiers: Iterable[str], remove: Callable[[str], object]) -> list[str]:
    """Remove each thing; one already gone counts as removed by someone else, not by us."""
    done = []
    for identifier in identifiers:
        try:
            remove(identifier)
        except AwsError as error:
            if _gone(error):
                continue
            raise
        done.append(identifier)
    return done


def _access_keys(user_name: str) -> list[dict[str, Any]]:
    return _listed("ListAccessKeys", "AccessKeyMetadata", user_name)


def deactivate_access_keys(user_name: str) -> list[str]:
    """Inactive at once, so a key stops working even if deleting it fails later."""
    return _remove_each(
        (key["AccessKeyId"] for key in _access_keys(user_name) if key.get("Status") != "Inactive"),
        lambda key_id: call(
            "UpdateAccessKey", UserName=user_name, AccessKeyId=key_id, Status="Inactive"
        ),
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
        identifiers = _service_specific_credential_ids(user_name)
    except AwsError as error:
        if not _gone(error):
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
        if not _gone(error):
            raise
        devices = []
    done = []
    for device in devices:
        try:
            call("DeactivateMFADevice", UserName=user_name, SerialNumber=device.serial_number)
        except AwsError as error:
            if not _gone(error):
                raise
        done.append(device.serial_number)
    virtual = [d.serial_number for d in devices if d.virtual]
    virtual += [serial for serial in known_virtual if serial not in virtual]
    for serial in virtual:
        try:
            call("DeleteVirtualMFADevice", SerialNumber=serial)
        except AwsError as error:
            if _gone(error):
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
        if _gone(error):
            return []
        raise
    boundary = user.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn", "")
    if not boundary:
        return []
    try:
        call("DeleteUserPermissionsBoundary", UserName=user_name)
    except AwsError as error:
        if _gone(error):
            return []
        raise
    return [boundary]


def delete_user(user_name: str) -> list[str]:
    try:
        call("DeleteUser", UserName=user_name)
    except AwsError as error:
        if _gone(error):
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
        if _gone(error):
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
