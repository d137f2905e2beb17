"""The end of a rotation: the old key deactivated once the new one is seen in use or the
overlap ends, then deleted; and the beat sweep that moves rotations along.

Finishing is claimed (`overlap` → `finishing`, or a `finishing` one whose lease lapsed) and its
two steps recorded, so a crash between them resumes at the second."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

import audit
from provisioning import aws, queue
from provisioning.guardrails import notifications
from provisioning.guardrails.models import KeyRotation
from provisioning.models import AccessKeyRecord

logger = logging.getLogger(__name__)

Status = KeyRotation.Status


def _lease_start(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


def _claim_finish(rotation: KeyRotation, now: datetime) -> KeyRotation | None:
    claimable = Q(status=Status.OVERLAP) | Q(
        status=Status.FINISHING, updated_at__lt=_lease_start(now)
    )
    if (
        KeyRotation.objects.filter(claimable, pk=rotation.pk).update(
            status=Status.FINISHING, attempts=F("attempts") + 1, updated_at=now
        )
        != 1
    ):
        return None
    return KeyRotation.objects.select_related("iam_account__owner").get(pk=rotation.pk)


def _record(rotation: KeyRotation, step: str, **fields: object) -> bool:
    steps = [*rotation.steps_done, step]
    updated = KeyRotation.objects.filter(
        pk=rotation.pk, status=Status.FINISHING, attempts=rotation.attempts
    ).update(steps_done=steps, updated_at=timezone.now(), **fields)
    rotation.steps_done = steps
    return updated == 1


def _step(
    rotation: KeyRotation, step: str, action: str, call: Callable[[], bool], **data: Any
) -> bool:
    if step in rotation.steps_done:
        return True
    with aws.recording() as calls:
        call()
    with transaction.atomic():
        if not _record(rotation, step):
            return False
        audit.record(
            action,
            target=rotation.audit_target,
            subject=rotation.iam_account.owner_id,
            data={
                "iam_user": rotation.iam_account.user_name,
                "access_key_id": rotation.old_access_key_id,
                "aws_request_ids": calls.request_ids,
                **data,
            },
        )
    return True


def key_rotation_advance(*, rotation_id: int, now: datetime | None = None) -> str:
    """Finish a rotation whose new key is in use or whose overlap has ended. Returns
    "waiting", "completed" or "skipped"; transient AWS errors propagate (the next sweep
    tries again, and the recorded steps are not repeated)."""
    now = now or timezone.now()
    rotation = (
        KeyRotation.objects.select_related("iam_account__owner")
        .filter(pk=rotation_id, status__in=(Status.OVERLAP, Status.FINISHING))
        .first()
    )
    if rotation is None:
        return "skipped"
    why = "because the overlap ended"
    if rotation.status == Status.OVERLAP:
        used = aws.access_key_last_used(rotation.new_access_key_id)
        if used is not None and used >= rotation.created_at - timedelta(minutes=5):
            why = "once your new key was first used"
            KeyRotation.objects.filter(pk=rotation.pk, new_key_first_used_at__isnull=True).update(
                new_key_first_used_at=used
            )
        elif rotation.overlap_ends_at and now < rotation.overlap_ends_at:
            return "waiting"
    claimed = _claim_finish(rotation, now)
    if claimed is None:
        return "skipped"
    rotation = claimed
    user_name = rotation.iam_account.user_name
    old = rotation.old_access_key_id
    reason = f"rotated: replaced by {rotation.new_access_key_id} ({why})"
    if not _step(
        rotation,
        "old_deactivated",
        "iam.access_key.deactivated",
        lambda: aws.deactivate_access_key(user_name, old),
        reason=reason,
    ):
        return "skipped"
    if not _step(
        rotation,
        "old_deleted",
        "iam.access_key.deleted",
        lambda: aws.delete_access_key(user_name, old),
        reason=reason,
    ):
        return "skipped"
    with transaction.atomic():
        AccessKeyRecord.objects.filter(access_key_id=old, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )
        done = KeyRotation.objects.filter(
            pk=rotation.pk, status=Status.FINISHING, attempts=rotation.attempts
        ).update(status=Status.COMPLETED, finished_at=timezone.now())
        if done != 1:
            return "skipped"
        audit.record(
            "key_rotation.completed",
            target=rotation.audit_target,
            subject=rotation.iam_account.owner_id,
            data={"iam_user": user_name, "old_access_key_id": old, "why": why},
        )
    try:
        notifications.key_rotation_finished(
            account=rotation.iam_account, old_access_key_id=old, why=why
        )
    except OSError:
        logger.exception("Could not email the end of key rotation %s", rotation.pk)
    return "completed"


def key_rotations_sweep(
    *, now: datetime | None = None, enqueue: Callable[[int], Any] | None = None
) -> dict[str, int]:
    """Beat: re-enqueue rotations whose task was lost or whose worker died, and finish those
    whose overlap is over (or whose new key is in use)."""
    now = now or timezone.now()
    enqueue = enqueue or queue.rotate_key_now
    counts = {"requeued": 0, "completed": 0, "waiting": 0}
    stale = now - timedelta(seconds=settings.PROVISIONING_STALE_SECONDS)
    stuck = KeyRotation.objects.filter(
        Q(status=Status.REQUESTED, updated_at__lt=stale)
        | Q(status=Status.ROTATING, updated_at__lt=_lease_start(now))
    ).values_list("pk", "status", "updated_at", "iam_account__owner_id")[:200]
    for pk, status, updated_at, owner_id in stuck:
        with transaction.atomic():
            if not KeyRotation.objects.filter(pk=pk, status=status, updated_at=updated_at).update(
                status=Status.REQUESTED, updated_at=now
            ):
                continue
            audit.record(
                "key_rotation.requeued",
                target=f"key_rotation:{pk}",
                subject=owner_id,
                data={"was": status},
            )
        try:
            enqueue(pk)
        except Exception:
            logger.warning("Could not enqueue key rotation %s; the next sweep retries.", pk)
            break
        counts["requeued"] += 1
    finishing = KeyRotation.objects.filter(
        Q(status=Status.OVERLAP) | Q(status=Status.FINISHING, updated_at__lt=_lease_start(now))
    ).values_list("pk", flat=True)[:500]
    for pk in finishing:
        try:
            outcome = key_rotation_advance(rotation_id=pk, now=now)
        except aws.AwsError as error:
            logger.warning("Key rotation %s: %s; the next sweep retries.", pk, error)
            continue
        if outcome in counts:
            counts[outcome] += 1
    return counts
