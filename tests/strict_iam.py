"""A strict layer over moto: it refuses what AWS refuses and simulates what moto lacks.

moto 5.2 deletes a user that still has a console password, access keys, SSH keys, signing
certificates, MFA devices or group memberships, and deletes a virtual MFA device that is still
assigned to a user. AWS refuses both with `DeleteConflict`. moto implements neither
service-specific credentials nor user permissions boundaries. A green teardown on bare moto
would prove nothing about the order AWS insists on; on this layer it does.

For the guardrails (see `guardrails.py` beside this file): moto enables an MFA device whatever
codes it is given (AWS checks two consecutive TOTP codes against the seed), hands the seed out
again on ListVirtualMFADevices (AWS only once, at creation), serves a credential report the
instant one is asked for and leaves the root user out of it (AWS answers ReportInProgress
while generating, and its report starts with `<root_account>`), and takes any password policy
values. The layer refuses and answers as AWS does.

The layer is a botocore `before-call` handler on the portal's IAM client. It inspects moto's
state through a separate plain client (so the portal's own hooks never see the inspection),
answers the calls moto lacks from its own state, and records every IAM call the portal makes,
in order, for tests to assert on.

Installed through `settings.AWS_CLIENT_HOOK = "tests.strict_iam.install"`: in this process with
`use_strict_iam(settings)`, in a worker subprocess with `PORTAL_STRICT_IAM=1` (the test
settings read it). The simulated credentials and boundaries live in this process only.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import boto3
import botocore.awsrequest
import botocore.config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

HOOK = "tests.strict_iam.install"

_ids = itertools.count(1)


def _response(status: int, parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # A before-call handler returning (http_response, parsed) stands in for the request;
    # botocore raises ClientError when the status is an error, as it would for AWS's answer.
    parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": f"strict-{next(_ids)}"}
    return botocore.awsrequest.AWSResponse(None, status, {}, None), parsed


def _error(code: str, message: str, status: int) -> tuple[Any, dict[str, Any]]:
    return _response(status, {"Error": {"Code": code, "Message": message, "Type": "Sender"}})


def _no_such_user(user_name: str) -> tuple[Any, dict[str, Any]]:
    return _error("NoSuchEntity", f"The user with name {user_name} cannot be found.", 404)


class StrictIam:
    def __init__(self, client: Any) -> None:
        self.inspector = boto3.session.Session().client(
            "iam",
            endpoint_url=client.meta.endpoint_url,
            region_name=client.meta.region_name,
            config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        self.boundaries: dict[str, str] = {}
        self.service_credentials: dict[str, list[dict[str, Any]]] = {}
        # (operation, parameters) of every IAM call the portal made, in order.
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[tuple[str, str]] = []

    def register(self, client: Any) -> None:
        from tests.guardrails_strict import GuardrailsStrict

        self.guardrails = getattr(self, "guardrails", None) or GuardrailsStrict(self.inspector)
        client.meta.events.register("before-call.iam", self._before_call)
        client.meta.events.register("after-call.iam.GetUser", self._after_get_user)
        self.guardrails.register(client)
        client._strict_iam = self

    # --- Dispatch ------------------------------------------------------------------------

    def _before_call(self, model: Any = None, params: Any = None, **_: Any) -> Any:
        operation = model.name
        body = params.get("body", {}) if isinstance(params, dict) else {}
        body = body if isinstance(body, dict) else {}
        self.calls.append(
            (operation, {k: v for k, v in body.items() if k not in {"Action", "Version"}})
        )
        handler = getattr(self, f"_{operation}", None) or getattr(
            self.guardrails, f"_{operation}", None
        )
        answer = handler(body) if handler else None
        if answer is not None and answer[1].get("Error"):
            self.refused.append((operation, answer[1]["Error"]["Code"]))
        return answer

    def _after_get_user(self, parsed: Any = None, **_: Any) -> None:
        user = parsed.get("User") if isinstance(parsed, dict) else None
        if user and user.get("UserName") in self.boundaries:
            user["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": self.boundaries[user["UserName"]],
            }

    def _user_exists(self, user_name: str) -> bool:
        try:
            self.inspector.get_user(UserName=user_name)
        except self.inspector.exceptions.NoSuchEntityException:
            return False
        return True

    # --- What AWS refuses ------------------------------------------------------------------

    def conflicts(self, user_name: str) -> list[str]:
        """What stops AWS deleting this user, in AWS's words ("must ... first")."""
        iam = self.inspector
        found = []
        try:
            iam.get_login_profile(UserName=user_name)
            found.append("delete login profile")
        except iam.exceptions.NoSuchEntityException:
            pass
        if iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]:
            found.append("delete access keys")
        if iam.list_signing_certificates(UserName=user_name)["Certificates"]:
            found.append("delete signing certificates")
        if iam.list_ssh_public_keys(UserName=user_name)["SSHPublicKeys"]:
            found.append("delete SSH public keys")
        if self.service_credentials.get(user_name):
            found.append("delete service-specific credentials")
        if iam.list_mfa_devices(UserName=user_name)["MFADevices"]:
            found.append("delete MFA devices")
        if iam.list_user_policies(UserName=user_name)["PolicyNames"]:
            found.append("delete policies")
        if iam.list_attached_user_policies(UserName=user_name)["AttachedPolicies"]:
            found.append("detach all policies")
        if iam.list_groups_for_user(UserName=user_name)["Groups"]:
            found.append("remove users from group")
        return found

    def _DeleteUser(self, body: dict[str, Any]) -> Any:
        user_name = body.get("UserName", "")
        if not self._user_exists(user_name):
            return None  # moto answers NoSuchEntity itself
        conflicts = self.conflicts(user_name)
        if conflicts:
            return _error(
                "DeleteConflict", f"Cannot delete entity, must {conflicts[0]} first.", 409
            )
        self.boundaries.pop(user_name, None)
        self.service_credentials.pop(user_name, None)
        return None

    def _DeleteVirtualMFADevice(self, body: dict[str, Any]) -> Any:
        serial = body.get("SerialNumber", "")
        assigned = self.inspector.list_virtual_mfa_devices(AssignmentStatus="Assigned")
        if any(device["SerialNumber"] == serial for device in assigned["VirtualMFADevices"]):
            return _error("DeleteConflict", "MFA Device is still in use", 409)
        return None

    # --- What moto lacks: service-specific credentials ---------------------------------------

    def _CreateServiceSpecificCredential(self, body: dict[str, Any]) -> Any:
        user_name = body.get("UserName", "")
        if not self._user_exists(user_name):
            return _no_such_user(user_name)
        credential = {
            "UserName": user_name,
            "Status": "Active",
            "ServiceUserName": f"{user_name}-at-123456789012",
            "CreateDate": dt.datetime.now(dt.UTC),
            "ServiceSpecificCredentialId": f"ACCA{next(_ids):016d}",
            "ServiceName": body.get("ServiceName", ""),
        }
        self.service_credentials.setdefault(user_name, []).append(credential)
        return _response(
            200, {"ServiceSpecificCredential": {**credential, "ServicePassword": "simulated"}}
        )

    def _ListServiceSpecificCredentials(self, body: dict[str, Any]) -> Any:
        user_name = body.get("UserName", "")
        if not self._user_exists(user_name):
            return _no_such_user(user_name)
        return _response(
            200,
            {"ServiceSpecificCredentials": list(self.service_credentials.get(user_name, []))},
        )

    def _DeleteServiceSpecificCredential(self, body: dict[str, Any]) -> Any:
        user_name = body.get("UserName", "")
        identifier = body.get("ServiceSpecificCredentialId", "")
        held = self.service_credentials.get(user_name, [])
        kept = [c for c in held if c["ServiceSpecificCredentialId"] != identifier]
        if len(kept) == len(held):
            return _error("NoSuchEntity", f"No such service-specific credential: {identifier}", 404)
        self.service_credentials[user_name] = kept
        return _response(200, {})

    # --- What moto lacks: user permissions boundaries ---------------------------------------

    def _PutUserPermissionsBoundary(self, body: dict[str, Any]) -> Any:
        user_name = body.get("UserName", "")
        if not self._user_exists(user_name):
            return _no_such_user(user_name)
        self.boundaries[user_name] = body.get("PermissionsBoundary", "")
        return _response(200, {})

    def _DeleteUserPermissionsBoundary(self, body: dict[str, Any]) -> Any:
        user_name = body.get("UserName", "")
        if not self._user_exists(user_name):
            return _no_such_user(user_name)
        self.boundaries.pop(user_name, None)
        return _response(200, {})

    # --- For assertions ---------------------------------------------------------------------

    def operations(self, user_name: str | None = None) -> list[str]:
        """The operations called, in order (optionally only those naming this user)."""
        return [
            operation
            for operation, params in self.calls
            if user_name is None or params.get("UserName") == user_name
        ]


# One layer per endpoint, shared by every client the portal builds against it (the standard
# and the quick one), so what it simulates is the same whichever client asks.
_layers: dict[str, StrictIam] = {}


def install(client: Any) -> None:
    """The AWS_CLIENT_HOOK: put the strict layer on the portal's IAM clients."""
    if client.meta.service_model.service_name == "iam":
        endpoint = client.meta.endpoint_url
        if endpoint not in _layers:
            _layers[endpoint] = StrictIam(client)
        _layers[endpoint].register(client)


def reset() -> None:
    """Forget every layer and what it simulated (a new test, a new account)."""
    _layers.clear()


def layer() -> StrictIam:
    """The strict layer on the portal's current IAM client."""
    from provisioning import aws

    return aws.client()._strict_iam


def use_strict_iam(settings: Any) -> StrictIam:
    """Switch the layer on for this test (pytest-django's `settings` restores it after)."""
    from provisioning import aws

    settings.AWS_CLIENT_HOOK = HOOK
    aws.reset_clients()
    reset()
    return layer()


# --- A fully loaded user, as a long-serving engineer's would look -----------------------------


def _signing_certificate() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "offboarding-test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _ssh_public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def load_user(
    user_name: str, *, simulated: bool = True, account_id: str = "123456789012"
) -> dict[str, Any]:
    """Create an IAM user holding one of everything (two access keys, two groups), through
    the portal's client. `simulated` adds what only the strict layer can hold (a
    service-specific credential and a permissions boundary). Returns what was made."""
    from provisioning import aws

    aws.call("CreateUser", UserName=user_name)
    aws.call("CreateLoginProfile", UserName=user_name, Password="Initial-pass-12345!")
    keys = [
        aws.call("CreateAccessKey", UserName=user_name)["AccessKey"]["AccessKeyId"]
        for _ in range(2)
    ]
    from tests.guardrails_strict import consecutive_codes

    device = aws.call("CreateVirtualMFADevice", VirtualMFADeviceName=user_name)["VirtualMFADevice"]
    serial = device["SerialNumber"]
    first, second = consecutive_codes(device["Base32StringSeed"].decode())
    aws.call(
        "EnableMFADevice",
        UserName=user_name,
        SerialNumber=serial,
        AuthenticationCode1=first,
        AuthenticationCode2=second,
    )
    aws.call("UploadSSHPublicKey", UserName=user_name, SSHPublicKeyBody=_ssh_public_key())
    aws.call("UploadSigningCertificate", UserName=user_name, CertificateBody=_signing_certificate())
    aws.call(
        "PutUserPolicy",
        UserName=user_name,
        PolicyName="personal-bucket",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"s3:*","Resource":"arn:aws:s3:::personal/*"}]}',
    )
    policy_arn = aws.call(
        "CreatePolicy",
        PolicyName=f"{user_name}-readonly",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"s3:Get*","Resource":"*"}]}',
    )["Policy"]["Arn"]
    aws.call("AttachUserPolicy", UserName=user_name, PolicyArn=policy_arn)
    groups = [f"{user_name}-developers", f"{user_name}-analysts"]
    for group in groups:
        try:
            aws.call("CreateGroup", GroupName=group)
        except aws.AwsError as error:
            if error.code != "EntityAlreadyExists":
                raise
        aws.call("AddUserToGroup", UserName=user_name, GroupName=group)
    made: dict[str, Any] = {"access_keys": keys, "mfa_serial": serial, "groups": groups}
    if simulated:
        aws.call(
            "CreateServiceSpecificCredential",
            UserName=user_name,
            ServiceName="codecommit.amazonaws.com",
        )
        aws.call(
            "PutUserPermissionsBoundary",
            UserName=user_name,
            PermissionsBoundary=f"arn:aws:iam::{account_id}:policy/boundary",
        )
    return made
