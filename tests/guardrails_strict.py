"""The strict layer's guardrail checks (tests/strict_iam.py installs them on the portal's IAM
client), and helpers that put a fake account into a known state.

- EnableMFADevice: the two codes must be consecutive TOTP codes of the device's seed (read
  from moto, which keeps it), within a few 30-second steps of now, as AWS checks them;
  otherwise `InvalidAuthenticationCode`. A device already assigned is refused.
- ListVirtualMFADevices: the seed and QR code are taken out of the answer (AWS gives them only
  to CreateVirtualMFADevice).
- GenerateCredentialReport / GetCredentialReport: the first read after a generation has
  started answers `ReportInProgress`; a report gains AWS's `<root_account>` line, with the
  root user's MFA and keys as the account summary says.
- UpdateAccountPasswordPolicy: AWS's ranges (length 6-128, reuse 1-24, age 1-1095).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from typing import Any

import botocore.awsrequest
import pyotp

ACCOUNT_ID = "123456789012"
_ids = itertools.count(1)


def _error(code: str, message: str, status: int = 400) -> tuple[Any, dict[str, Any]]:
    parsed = {
        "Error": {"Code": code, "Message": message, "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": f"strict-g-{next(_ids)}"},
    }
    return botocore.awsrequest.AWSResponse(None, status, {}, None), parsed


def consecutive_codes(seed: str, *, at: dt.datetime | None = None) -> tuple[str, str]:
    """Two consecutive codes of `seed`, as a person types them: the one before, then the current."""
    totp = pyotp.TOTP(seed)
    moment = at or dt.datetime.now(dt.UTC)
    return totp.at(moment - dt.timedelta(seconds=30)), totp.at(moment)


class GuardrailsStrict:
    def __init__(self, inspector: Any) -> None:
        self.inspector = inspector
        self.report_in_progress = False

    def register(self, client: Any) -> None:
        events = client.meta.events
        events.register("after-call.iam.ListVirtualMFADevices", self._after_list_virtual)
        events.register("after-call.iam.GenerateCredentialReport", self._after_generate)
        events.register("after-call.iam.GetCredentialReport", self._after_get_report)

    # --- MFA -------------------------------------------------------------------------------

    def seed_of(self, serial: str) -> str | None:
        for device in self.inspector.list_virtual_mfa_devices()["VirtualMFADevices"]:
            if device["SerialNumber"] == serial:
                seed = device.get("Base32StringSeed", b"")
                return seed.decode() if isinstance(seed, bytes) else seed
        return None

    def _EnableMFADevice(self, body: dict[str, Any]) -> Any:
        serial = body.get("SerialNumber", "")
        seed = self.seed_of(serial)
        if seed is None:
            return _error("NoSuchEntity", f"MFA device {serial} does not exist", 404)
        assigned = self.inspector.list_virtual_mfa_devices(AssignmentStatus="Assigned")
        if any(d["SerialNumber"] == serial for d in assigned["VirtualMFADevices"]):
            return _error("EntityAlreadyExists", "MFA device is already in use", 409)
        totp = pyotp.TOTP(seed)
        now = dt.datetime.now(dt.UTC)
        first, second = body.get("AuthenticationCode1", ""), body.get("AuthenticationCode2", "")
        for steps in range(-4, 2):
            moment = now + dt.timedelta(seconds=30 * steps)
            if totp.at(moment) == first and totp.at(moment + dt.timedelta(seconds=30)) == second:
                return None
        return _error("InvalidAuthenticationCode", "Authentication code for device is not valid")

    def _after_list_virtual(self, parsed: Any = None, **_: Any) -> None:
        for device in (parsed or {}).get("VirtualMFADevices", []):
            device.pop("Base32StringSeed", None)
            device.pop("QRCodePNG", None)

    # --- The credential report ---------------------------------------------------------------

    def _after_generate(self, parsed: Any = None, **_: Any) -> None:
        if isinstance(parsed, dict) and parsed.get("State") == "STARTED":
            self.report_in_progress = True

    def _GetCredentialReport(self, body: dict[str, Any]) -> Any:
        if self.report_in_progress:
            self.report_in_progress = False
            return _error("ReportInProgress", "Report generation is in progress", 404)
        return None

    def _after_get_report(self, parsed: Any = None, **_: Any) -> None:
        if not isinstance(parsed, dict) or "Content" not in parsed:
            return
        content = parsed["Content"]
        text = content.decode() if isinstance(content, bytes) else content
        header, _, rest = text.partition("\n")
        summary = self.inspector.get_account_summary()["SummaryMap"]
        columns = header.split(",")
        root = dict.fromkeys(columns, "N/A")
        root.update(
            user="<root_account>",
            arn=f"arn:aws:iam::{ACCOUNT_ID}:root",
            user_creation_time="2020-01-01T00:00:00+00:00",
            password_enabled="not_supported",
            password_last_used="no_information",
            password_last_changed="not_supported",
            password_next_rotation="not_supported",
            mfa_active="true" if summary.get("AccountMFAEnabled") else "false",
            access_key_1_active="true" if summary.get("AccountAccessKeysPresent") else "false",
            access_key_2_active="false",
            cert_1_active="false",
            cert_2_active="false",
        )
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([root[column] for column in columns])
        parsed["Content"] = f"{header}\n{line.getvalue()}{rest}".encode()

    # --- The password policy ----------------------------------------------------------------

    def _UpdateAccountPasswordPolicy(self, body: dict[str, Any]) -> Any:
        ranges = {
            "MinimumPasswordLength": (6, 128),
            "PasswordReusePrevention": (1, 24),
            "MaxPasswordAge": (1, 1095),
        }
        for name, (low, high) in ranges.items():
            if name in body and not low <= int(body[name]) <= high:
                return _error("ValidationError", f"{name} must be between {low} and {high}")
        return None


# --- Putting the fake account into a known state (moto's own records, in this process) -------


def _backend() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT_ID]["aws"]


def set_password_last_used(user_name: str, when: dt.datetime) -> None:
    _backend().users[user_name].password_last_used = when


def set_key_last_used(access_key_id: str, when: dt.datetime) -> None:
    from moto.iam.models import AccessKeyLastUsed

    _backend().access_keys[access_key_id].last_used = AccessKeyLastUsed(
        timestamp=when, service="s3", region="us-east-1"
    )


def set_key_created(access_key_id: str, when: dt.datetime) -> None:
    _backend().access_keys[access_key_id].create_date = when


def set_root(*, mfa: bool, access_keys: bool) -> None:
    summary = _backend().account_summary
    summary._account_mfa_enabled = int(mfa)
    summary._account_access_keys_present = int(access_keys)
