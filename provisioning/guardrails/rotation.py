"""A person rotates their access key: the request, and the worker's run that makes the new
key and hands it over.

Request (web): the person's live portal key becomes the old key of a new rotation, enqueued on
commit. Run (worker), claimed with a conditional UPDATE (`requested` → `rotating`, or a
`rotating` one whose lease lapsed) and fenced by its attempt count, in recorded steps:

- "new_key": keys of the user the portal never recorded are deleted first (a run killed
  between CreateAccessKey and recording it left one; this also keeps the user under AWS's two
  keys), then the new key is created and, in one transaction, recorded, its secret sealed into
  a credential link, and the step recorded. So a SIGKILL at any instant leaves at most the old
  key and one new one, and the resumed run ends with exactly one new key.
- "notify": the link is issued and the step recorded in one transaction, then emailed.
Then the rotation waits out its overlap (rotation_finish.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

import audit
from accounts.models import User
from provisioning import aws, queue
from provisioning.credentials import links
from provisioning.credentials.notifications import credential_link_sent
from provisioning.errors import PortalError
from provisioning.guardrails.models import KeyRotation
from provisioning.models import AccessKeyRecord, CredentialLink, IamAccount

logger = logging.getLogger(__name__)

Status = KeyRotation.Status


class RotationDeferred(Exception):
    """A transient failure: the claim was released and the task should retry later."""


class RotationClaimLost(Exception):
    """Another run holds the rotation now."""


def key_rotation_request(*, actor: User, iam_account_id: int, ip: str | None = None) -> KeyRotation:
    """The person asks for a new access key for their IAM user; the worker makes it."""
    account = (
        IamAccount.objects.filter(pk=iam_account_id, owner=actor, status=IamAccount.Status.ACTIVE)
        .select_related("owner")
        .first()
    )
    if account is None or not actor.is_active:
        raise PortalError("There is no such IAM user of yours.")
    live = list(
        AccessKeyRecord.objects.filter(iam_account=account, deleted_at__isnull=True).order_by(
            "created_at"
        )
    )
    if not live:
        raise PortalError(
            f"IAM user {account.user_name} has no access key from the portal to rotate. "
            "Request programmatic access to get one."
        )
    if KeyRotation.objects.filter(
        iam_account=account, status__in=KeyRotation.OPEN_STATUSES
    ).exists():
        raise PortalError("A rotation of this key is already under way: check your email.")
    if len(live) > 1:
        raise PortalError(
            f"IAM user {account.user_name} already has two access keys, the most AWS allows. "
            "Ask a security admin to remove the one you no longer use."
        )
    with transaction.atomic():
        rotation = KeyRotation.objects.create(
            iam_account=account, requested_by=actor, old_access_key_id=live[0].access_key_id
        )
        audit.record(
            "key_rotation.requested",
            actor=actor,
            target=rotation.audit_target,
            subject=rotation.iam_account.owner_id,
            data={"iam_user": account.user_name, "old_access_key_id": live[0].access_key_id},
            ip=ip,
        )
        queue.rotate_key_on_commit(rotation.pk)
    return rotation


# --- The worker's run ------------------------------------------------------------------------


def _lease_start() -> datetime:
    return timezone.now() - timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


def _claim(rotation_id: int) -> KeyRotation | None:
    claimable = Q(status=Status.REQUESTED) | Q(
        status=Status.ROTATING, updated_at__lt=_lease_start()
    )
    if (
        KeyRotation.objects.filter(claimable, pk=rotation_id).update(
            status=Status.ROTATING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
        != 1
    ):
        return None
    return KeyRotation.objects.select_related("iam_account__owner", "link").get(pk=rotation_id)


def _fenced(rotation: KeyRotation) -> QuerySet[KeyRotation]:
    return KeyRotation.objects.filter(
        pk=rotation.pk, status=Status.ROTATING, attempts=rotation.attempts
    )


def _record_step(rotation: KeyRotation, step: str, **fields: object) -> None:
    steps = [*rotation.steps_done, step]
    if _fenced(rotation).update(steps_done=steps, updated_at=timezone.now(), **fields) != 1:
        raise RotationClaimLost
    rotation.steps_done = steps
    for name, value in fields.items():
        setattr(rotation, name, value)


def _audit(rotation: KeyRotation, action: str, calls: aws.CallLog | None, **data: object) -> None:
    audit.record(
        action,
        target=rotation.audit_target,
        subject=rotation.iam_account.owner_id,
        data={
            "iam_user": rotation.iam_account.user_name,
            "attempt": rotation.attempts,
            "aws_request_ids": calls.request_ids if calls else [],
            **data,
        },
    )


def _step_new_key(rotation: KeyRotation) -> None:
    if "new_key" in rotation.steps_done:
        return
    account = rotation.iam_account
    recorded = set(
        AccessKeyRecord.objects.filter(iam_account=account, deleted_at__isnull=True).values_list(
            "access_key_id", flat=True
        )
    )
    with aws.recording() as calls:
        strays = [key for key in aws.access_key_ids(account.user_name) if key not in recorded]
        for key_id in strays:
            aws.delete_access_key(account.user_name, key_id)
        if strays:
            with transaction.atomic():
                for key_id in strays:
                    _audit(
                        rotation,
                        "iam.access_key.deleted",
                        calls,
                        access_key_id=key_id,
                        reason="not recorded by the portal (left by an interrupted rotation)",
                    )
        key_id, secret = aws.create_access_key(account.user_name)
    # The secret exists only in this process now: record the key and seal it together.
    with transaction.atomic():
        AccessKeyRecord.objects.create(iam_account=account, access_key_id=key_id)
        link = CredentialLink.objects.create(recipient_id=account.owner_id, iam_account=account)
        links.credential_link_seal_access_key(
            link=link, access_key_id=key_id, secret_access_key=secret
        )
        _record_step(rotation, "new_key", new_access_key_id=key_id, link=link)
        _audit(
            rotation,
            "iam.access_key.created",
            calls,
            access_key_id=key_id,
            reason="rotated by its owner",
        )


def _step_notify(rotation: KeyRotation) -> None:
    if "notify" in rotation.steps_done:
        return
    link = CredentialLink.objects.select_related("recipient", "iam_account").get(
        pk=rotation.link_id or 0
    )
    with transaction.atomic():
        token = links.credential_link_issue(link=link)
        _record_step(rotation, "notify")
    try:
        credential_link_sent(link=link, token=token, rotated=True)
    except OSError as error:
        # Certainly not sent: nobody holds the token. Undo, and retry later.
        with transaction.atomic():
            links.credential_link_withdraw(link=link)
            steps = [step for step in rotation.steps_done if step != "notify"]
            if _fenced(rotation).update(steps_done=steps) != 1:
                raise RotationClaimLost from None
            rotation.steps_done = steps
        raise RotationDeferred(f"the email could not be sent ({error})") from None


def _fail(rotation: KeyRotation, reason: str) -> None:
    with transaction.atomic():
        if _fenced(rotation).update(status=Status.FAILED, failure_reason=reason) != 1:
            raise RotationClaimLost
        _audit(rotation, "key_rotation.failed", None, reason=reason)


def key_rotation_run(*, rotation_id: int, final_attempt: bool = False) -> str:
    """Make the new key and send its link. Returns "overlap", "failed" or "skipped"; raises
    RotationDeferred after a transient failure (the claim released) unless `final_attempt`."""
    rotation = _claim(rotation_id)
    if rotation is None:
        return "skipped"
    account = rotation.iam_account
    try:
        if not account.owner.is_active or account.status != IamAccount.Status.ACTIVE:
            # Offboarded since asking: a new key must never appear on a user being torn down.
            _fail(rotation, f"{account.owner} has left: no new key is made.")
            return "failed"
        try:
            _step_new_key(rotation)
            _step_notify(rotation)
        except aws.AwsError as error:
            if error.transient and not final_attempt:
                _fenced(rotation).update(status=Status.REQUESTED, failure_reason=str(error))
                raise RotationDeferred(str(error)) from None
            _fail(rotation, f"AWS refused while rotating the key: {error}")
            return "failed"
        except RotationDeferred:
            if final_attempt:
                _fail(rotation, "The email with the new key's link could not be sent.")
                return "failed"
            _fenced(rotation).update(status=Status.REQUESTED)
            raise
        with transaction.atomic():
            ends = timezone.now() + timedelta(days=settings.KEY_ROTATION_OVERLAP_DAYS)
            if (
                _fenced(rotation).update(
                    status=Status.OVERLAP, overlap_ends_at=ends, failure_reason=""
                )
                != 1
            ):
                raise RotationClaimLost
            _audit(
                rotation,
                "key_rotation.overlap_started",
                None,
                new_access_key_id=rotation.new_access_key_id,
                old_access_key_id=rotation.old_access_key_id,
                overlap_ends_at=ends,
            )
    except RotationClaimLost:
        logger.warning("Key rotation %s: another run took over; this one stops.", rotation_id)
        return "skipped"
    return "overlap"
