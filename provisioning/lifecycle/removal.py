"""The worker's removal of an ending grant from IAM: resumable step by step.

One worker at a time holds a grant (a session advisory lock, released by Postgres the moment
the holder's connection dies, so a SIGKILLed worker's redelivered task takes over at once);
the claim bumps `attempts`, which fences every later write. Steps, each recorded in
`steps_done` with its audit row in one transaction:

- "credentials" (only when this is the IAM user's last live grant and the role-group says
  `ending_removes_credentials`): the console password and the access keys are deleted first,
  since they are how the person gets in; unrevealed credential links are revoked.
- "group": RemoveUserFromGroup (already out counts as done), and the grant ends
  (`revoked_at`) in the same transaction as its `iam.group.removed` row, which carries the
  exact start and end.

Then the holder and their manager are emailed. Transient AWS errors leave the steps done as
they are and go back to the task to retry; a permanent one is recorded once (and the
security admins told), and the lifecycle sweep tries again later.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

import audit
from common.locks import LockKey, session_try_lock
from provisioning import aws
from provisioning.credentials.links import credential_links_revoke_for_account
from provisioning.lifecycle import notifications
from provisioning.lifecycle.ending import grant_payload
from provisioning.models import AccessKeyRecord, Grant, IamAccount

logger = logging.getLogger(__name__)

CREDENTIALS = "credentials"
GROUP = "group"


class ClaimLost(Exception):
    """Another run holds the grant now; this one must stop without writing."""


def _fenced(grant: Grant) -> QuerySet[Grant]:
    return Grant.objects.filter(pk=grant.pk, attempts=grant.attempts, revoked_at__isnull=True)


def _record(grant: Grant, step: str, **fields: object) -> None:
    steps = [*grant.steps_done, step]
    if _fenced(grant).update(steps_done=steps, updated_at=timezone.now(), **fields) != 1:
        raise ClaimLost
    grant.steps_done = steps


def _claim(grant_id: int) -> Grant | None:
    claimed = (
        Grant.objects.filter(pk=grant_id, revoked_at__isnull=True)
        .exclude(end="")
        .update(attempts=F("attempts") + 1, updated_at=timezone.now())
    )
    if claimed != 1:
        return None
    return Grant.objects.select_related(
        "iam_account__owner__manager", "role_group", "ended_by"
    ).get(pk=grant_id)


def grant_removal_run(*, grant_id: int) -> str:
    """Remove an ending grant from IAM, resuming from its recorded steps. Returns "ended",
    "failed" (a permanent AWS refusal, recorded), "busy" (another worker holds it) or
    "skipped" (not ending: gone, or ended already). Raises transient `aws.AwsError`s."""
    with session_try_lock(LockKey.GRANT_ENDING, grant_id) as held:
        if not held:
            return "busy"
        grant = _claim(grant_id)
        if grant is None:
            return "skipped"
        try:
            if CREDENTIALS not in grant.steps_done and _removes_credentials(grant):
                _step_credentials(grant)
            _step_group(grant)
        except aws.AwsError as error:
            if error.transient:
                raise
            _record_failure(grant, error)
            return "failed"
        except ClaimLost:
            logger.warning("Grant %s: another run took over; this one stops.", grant_id)
            return "skipped"
    try:
        notifications.grant_ended(grant)
    except OSError:
        # The grant has ended and the trail says so; the email is a courtesy.
        logger.exception("Could not email the end of grant %s", grant_id)
    return "ended"


def _removes_credentials(grant: Grant) -> bool:
    if not grant.role_group.ending_removes_credentials:
        return False
    if grant.iam_account.status != IamAccount.Status.ACTIVE:
        return False
    others = Grant.objects.filter(iam_account=grant.iam_account, revoked_at__isnull=True)
    return not others.exclude(pk=grant.pk).exists()


def _step_credentials(grant: Grant) -> None:
    user_name = grant.iam_account.user_name
    with aws.recording() as calls:
        password = aws.delete_login_profile(user_name)
        keys = aws.delete_access_keys(user_name)
    with transaction.atomic():
        _record(grant, CREDENTIALS)
        AccessKeyRecord.objects.filter(
            iam_account=grant.iam_account, deleted_at__isnull=True
        ).update(deleted_at=timezone.now())
        credential_links_revoke_for_account(
            iam_account_id=grant.iam_account_id, reason="the IAM user's last role-group ended"
        )
        data = {
            "grant": grant.pk,
            "reason": f"last role-group ({grant.role_group.name}) ended",
            "aws_request_ids": calls.request_ids[:50],
        }
        target = f"iam_user:{user_name}"
        owner = grant.iam_account.owner_id
        audit.record(
            "iam.login_profile.deleted",
            target=target,
            subject=owner,
            data={**data, "removed": password},
        )
        audit.record(
            "iam.access_keys.deleted", target=target, subject=owner, data={**data, "removed": keys}
        )


def _step_group(grant: Grant) -> None:
    account = grant.iam_account
    group = grant.role_group.iam_group_name
    removed = False
    with aws.recording() as calls:
        # An offboarded user (deleted, or disabled and kept) left every group in its teardown.
        if account.status == IamAccount.Status.ACTIVE:
            removed = aws.remove_user_from_group(account.user_name, group)
    with transaction.atomic():
        now = timezone.now()
        _record(grant, GROUP, revoked_at=now, failure_reason="")
        grant.revoked_at = now
        audit.record(
            "iam.group.removed",
            target=grant.audit_target,
            subject=grant.iam_account.owner_id,
            data={
                **grant_payload(grant),
                "end": grant.end,
                "removed": removed,
                "started_at": grant.granted_at,
                "ended_at": now,
                "attempt": grant.attempts,
                "aws_request_ids": calls.request_ids,
            },
        )


def _record_failure(grant: Grant, error: aws.AwsError) -> None:
    """A permanent refusal, recorded (and the security admins told) when it is new."""
    reason = (
        f"AWS refused to remove {grant.iam_account.user_name} from "
        f"{grant.role_group.iam_group_name} ({error.code}: {error.message})"
    )
    if grant.failure_reason == reason:
        return
    with transaction.atomic():
        if _fenced(grant).update(failure_reason=reason, updated_at=timezone.now()) != 1:
            return
        grant.failure_reason = reason
        audit.record(
            "grant.removal_failed",
            target=grant.audit_target,
            subject=grant.iam_account.owner_id,
            data={
                **grant_payload(grant),
                "reason": reason,
                "aws_error": error.code,
                "aws_request_ids": [error.request_id] if error.request_id else [],
                "attempt": grant.attempts,
            },
        )
    try:
        notifications.grant_removal_failed(grant)
    except OSError:
        logger.exception("Could not email the failed removal of grant %s", grant.pk)
