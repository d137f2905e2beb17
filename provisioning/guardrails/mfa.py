"""Enrolling a virtual MFA device for a person's IAM user, from the reveal page or My access.

1. Start: CreateVirtualMFADevice (one left unfinished is made anew); its seed is sealed into
   the enrolment row at once, never logged, never sent anywhere but the person's page.
2. The page shows the seed as a QR code (segno, inline SVG) and as text, and asks for two
   consecutive codes.
3. Enable: EnableMFADevice with the codes; AWS checks them against the seed. Wrong codes are
   refused with a message and may be tried again. Enabled, the seed is wiped.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User
from provisioning import aws
from provisioning.credentials import crypto
from provisioning.credentials.reveal import account_id_of
from provisioning.errors import PortalError
from provisioning.guardrails.models import MfaEnrolment
from provisioning.models import IamAccount

SEED_SCOPE = "mfa-enrolment"
SEED_FIELD = "seed"
REFUSED_CODES = "InvalidAuthenticationCode"


class MfaNotAllowed(PortalError):
    """Not this person's IAM user (or not one that can take a device now)."""


class MfaCodesRefused(PortalError):
    """AWS did not accept the two codes."""


def _account_of(actor: User, iam_account_id: int) -> IamAccount:
    account = (
        IamAccount.objects.filter(pk=iam_account_id, owner=actor, status=IamAccount.Status.ACTIVE)
        .select_related("owner")
        .first()
    )
    if account is None:
        raise MfaNotAllowed("There is no such IAM user of yours.")
    return account


def mfa_enrolment_pending(*, actor: User, iam_account_id: int) -> MfaEnrolment | None:
    account = _account_of(actor, iam_account_id)
    return MfaEnrolment.objects.filter(
        iam_account=account, status=MfaEnrolment.Status.PENDING
    ).first()


def mfa_enrolment_seed(enrolment: MfaEnrolment) -> str:
    """The seed, opened for the person's page only (never stored or logged in clear)."""
    if enrolment.sealed_seed is None:
        raise MfaNotAllowed("This MFA set-up has finished: start again if you need a new one.")
    return crypto.unseal(
        enrolment.sealed_seed, link_id=enrolment.pk, field=SEED_FIELD, scope=SEED_SCOPE
    )


def mfa_enrolment_start(*, actor: User, iam_account_id: int, ip: str | None = None) -> MfaEnrolment:
    """A new virtual device for the person's IAM user, its seed sealed. Refused when the user
    already has an MFA device; an unfinished enrolment is replaced."""
    account = _account_of(actor, iam_account_id)
    try:
        with aws.recording() as calls:
            if aws.mfa_serial_numbers(account.user_name):
                raise MfaNotAllowed(
                    f"IAM user {account.user_name} already has an MFA device. To replace it, "
                    "ask a security admin to remove the old one first."
                )
            device = aws.create_virtual_mfa_device(
                account.user_name, account_id=account_id_of(account)
            )
    except aws.AwsError as error:
        raise PortalError(f"AWS refused to make an MFA device: {error.message}") from None
    with transaction.atomic():
        MfaEnrolment.objects.filter(iam_account=account, status=MfaEnrolment.Status.PENDING).update(
            status=MfaEnrolment.Status.ABANDONED, sealed_seed=None
        )
        enrolment = MfaEnrolment.objects.create(
            iam_account=account, serial_number=device.serial_number
        )
        # The row's id binds the ciphertext, so it is sealed once the row exists.
        enrolment.sealed_seed = crypto.seal(
            device.seed, link_id=enrolment.pk, field=SEED_FIELD, scope=SEED_SCOPE
        )
        enrolment.save(update_fields=["sealed_seed"])
        audit.record(
            "iam.mfa_device.created",
            actor=actor,
            target=f"iam_account:{account.pk}",
            subject=account.owner_id,
            data={
                "iam_user": account.user_name,
                "serial_number": device.serial_number,
                "enrolment": enrolment.pk,
                "aws_request_ids": calls.request_ids,
            },
            ip=ip,
        )
    return enrolment


def mfa_enrolment_enable(
    *, actor: User, iam_account_id: int, code_1: str, code_2: str, ip: str | None = None
) -> MfaEnrolment:
    """EnableMFADevice with the person's two consecutive codes; the seed is wiped once AWS
    accepts them. Wrong codes raise MfaCodesRefused (recorded) and can be tried again."""
    account = _account_of(actor, iam_account_id)
    enrolment = MfaEnrolment.objects.filter(
        iam_account=account, status=MfaEnrolment.Status.PENDING
    ).first()
    if enrolment is None:
        raise MfaNotAllowed("Start the MFA set-up first: there is no device waiting for codes.")
    try:
        with aws.recording() as calls:
            aws.enable_mfa_device(account.user_name, enrolment.serial_number, code_1, code_2)
    except aws.AwsError as error:
        if error.code != REFUSED_CODES:
            raise PortalError(f"AWS refused to enable the MFA device: {error.message}") from None
        with transaction.atomic():
            MfaEnrolment.objects.filter(pk=enrolment.pk).update(
                refused_attempts=enrolment.refused_attempts + 1
            )
            audit.record(
                "iam.mfa_device.codes_refused",
                actor=actor,
                target=f"iam_account:{account.pk}",
                subject=account.owner_id,
                data={"iam_user": account.user_name, "serial_number": enrolment.serial_number},
                ip=ip,
            )
        raise MfaCodesRefused(
            "AWS did not accept those codes. Wait for your app to show a new code, then enter "
            "two codes in a row: the one shown now, and the next one after it changes."
        ) from None
    with transaction.atomic():
        MfaEnrolment.objects.filter(pk=enrolment.pk).update(
            status=MfaEnrolment.Status.ENABLED, sealed_seed=None, enabled_at=timezone.now()
        )
        audit.record(
            "iam.mfa_device.enabled",
            actor=actor,
            target=f"iam_account:{account.pk}",
            subject=account.owner_id,
            data={
                "iam_user": account.user_name,
                "serial_number": enrolment.serial_number,
                "enrolment": enrolment.pk,
                "aws_request_ids": calls.request_ids,
            },
            ip=ip,
        )
    enrolment.refresh_from_db()
    return enrolment
