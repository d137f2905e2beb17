"""Virtual MFA devices in IAM: made for one user, enabled with two consecutive codes.

The seed CreateVirtualMFADevice answers with is a secret: it leaves this module only in the
returned dataclass, for the caller to seal at once; it is never logged (client.py withholds
the bodies that carry it).
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.aws.client import AwsError, call, gone, pages


@dataclass(frozen=True)
class NewVirtualMfaDevice:
    serial_number: str
    # Base32, as authenticator apps take it. A secret: seal it, never log it.
    seed: str

    def __repr__(self) -> str:
        return f"NewVirtualMfaDevice(serial_number={self.serial_number!r}, seed=[withheld])"


def mfa_serial_numbers(user_name: str) -> list[str]:
    """The MFA devices assigned to the user (virtual or not)."""
    return [
        device["SerialNumber"]
        for device in pages("ListMFADevices", "MFADevices", UserName=user_name)
    ]


def virtual_mfa_serial(account_id: str, device_name: str) -> str:
    return f"arn:aws:iam::{account_id}:mfa/{device_name}"


def create_virtual_mfa_device(device_name: str, *, account_id: str) -> NewVirtualMfaDevice:
    """A new, unassigned virtual device named `device_name`. One left unassigned by an
    enrolment that was never finished is deleted and made anew (AWS keeps a device's seed
    secret, so the old one cannot be shown again); one assigned to a user is refused."""
    try:
        device = call("CreateVirtualMFADevice", VirtualMFADeviceName=device_name)
    except AwsError as error:
        if error.code != "EntityAlreadyExists":
            raise
        delete_virtual_mfa_device(virtual_mfa_serial(account_id, device_name))
        device = call("CreateVirtualMFADevice", VirtualMFADeviceName=device_name)
    made = device["VirtualMFADevice"]
    seed = made["Base32StringSeed"]
    return NewVirtualMfaDevice(
        serial_number=made["SerialNumber"],
        seed=seed.decode() if isinstance(seed, bytes) else str(seed),
    )


def enable_mfa_device(user_name: str, serial_number: str, code_1: str, code_2: str) -> None:
    """Assign the device to the user. AWS checks the two consecutive codes against the seed
    and answers InvalidAuthenticationCode when they do not match."""
    call(
        "EnableMFADevice",
        UserName=user_name,
        SerialNumber=serial_number,
        AuthenticationCode1=code_1,
        AuthenticationCode2=code_2,
    )


def delete_virtual_mfa_device(serial_number: str) -> bool:
    """Delete an unassigned virtual device; False when it was already gone."""
    try:
        call("DeleteVirtualMFADevice", SerialNumber=serial_number)
    except AwsError as error:
        if gone(error):
            return False
        raise
    return True
