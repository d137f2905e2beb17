"""Access keys past their maximum age (the daily key-age run), and a security admin's one
extension of a key.

Per key of each watched IAM user, read live (ListAccessKeys): active and older than the
maximum age (KEY_MAX_AGE_DAYS, plus an extension's days) → deactivated, and the owner told;
past a reminder age (KEY_AGE_REMINDER_DAYS, shifted likewise) → the owner reminded, once per
reminder. Deactivating is done whenever a key is over age; the notice only makes its audit row
and email happen once.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

import audit
from accounts import roles
from accounts.models import User
from provisioning import aws
from provisioning.errors import PortalError
from provisioning.guardrails import notifications
from provisioning.guardrails.models import GuardrailNotice, KeyAgeExtension
from provisioning.guardrails.notices import notice_once
from provisioning.models import AccessKeyRecord, IamAccount

Kind = GuardrailNotice.Kind
REASON_MIN_LENGTH = 10


def key_age_check_account(*, account: IamAccount, now: datetime) -> dict[str, int]:
    """Remind or deactivate the account's keys by age. Returns what it did, counted."""
    counts = {"reminded": 0, "deactivated": 0}
    extensions = dict(
        KeyAgeExtension.objects.filter(iam_account=account).values_list("access_key_id", "days")
    )
    for key in aws.access_keys_of(account.user_name, with_last_use=False):
        if not key.active:
            continue
        extra = extensions.get(key.access_key_id, 0)
        age = (now - key.created).days
        limit = settings.KEY_MAX_AGE_DAYS + extra
        if age >= limit:
            with aws.recording() as calls:
                aws.deactivate_access_key(account.user_name, key.access_key_id)
            AccessKeyRecord.objects.filter(access_key_id=key.access_key_id).update(active=False)
            if notice_once(
                account=account,
                kind=Kind.KEY_AGE_DEACTIVATED,
                key=f"{key.access_key_id}:age-deactivated",
                credential=key.access_key_id,
                action="iam.access_key.deactivated",
                data={
                    "access_key_id": key.access_key_id,
                    "reason": f"older than {limit} days ({age} days)",
                    "aws_request_ids": calls.request_ids,
                },
                email=functools.partial(
                    notifications.key_age_deactivated,
                    account=account,
                    access_key_id=key.access_key_id,
                    age_days=age,
                ),
            ):
                counts["deactivated"] += 1
            continue
        due = [day + extra for day in settings.KEY_AGE_REMINDER_DAYS if age >= day + extra]
        if not due:
            continue
        reminder = max(due)
        deactivate_on = (key.created + timedelta(days=limit)).date()
        if notice_once(
            account=account,
            kind=Kind.KEY_AGE_REMINDER,
            key=f"{key.access_key_id}:age-{reminder}",
            credential=key.access_key_id,
            action="guardrail.key_age.reminded",
            data={
                "access_key_id": key.access_key_id,
                "age_days": age,
                "deactivate_on": deactivate_on,
            },
            email=functools.partial(
                notifications.key_age_reminder,
                account=account,
                access_key_id=key.access_key_id,
                age_days=age,
                deactivate_on=deactivate_on,
            ),
        ):
            counts["reminded"] += 1
    return counts


def key_age_extend(
    *, actor: User, access_key_record_id: int, reason: str, ip: str | None = None
) -> KeyAgeExtension:
    """A security admin lets one key live KEY_AGE_EXTENSION_DAYS longer, once, saying why."""
    if not actor.has_perm(roles.OPERATE_PROVISIONING):
        raise PortalError("Only security admins extend an access key's age.")
    reason = reason.strip()
    if len(reason) < REASON_MIN_LENGTH:
        raise PortalError(f"Say why, in at least {REASON_MIN_LENGTH} characters.")
    record = (
        AccessKeyRecord.objects.select_related("iam_account__owner")
        .filter(pk=access_key_record_id, deleted_at__isnull=True)
        .first()
    )
    if record is None:
        raise PortalError("There is no such live access key.")
    if record.iam_account.owner_id == actor.pk:
        raise PortalError("You cannot extend your own access key: ask another security admin.")
    try:
        with transaction.atomic():
            extension = KeyAgeExtension.objects.create(
                access_key_id=record.access_key_id,
                iam_account=record.iam_account,
                extended_by=actor,
                reason=reason,
                days=settings.KEY_AGE_EXTENSION_DAYS,
            )
            audit.record(
                "guardrail.key_age.extended",
                actor=actor,
                target=f"iam_account:{record.iam_account_id}",
                subject=record.iam_account.owner_id,
                data={
                    "iam_user": record.iam_account.user_name,
                    "access_key_id": record.access_key_id,
                    "days": extension.days,
                    "reason": reason,
                },
                ip=ip,
            )
    except IntegrityError:
        raise PortalError(
            f"Access key {record.access_key_id} was already extended once: rotate it instead."
        ) from None
    return extension
