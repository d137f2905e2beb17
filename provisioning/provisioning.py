"""Provisioning an approved access request in IAM (run by the Celery worker).

A run first claims the request with a conditional UPDATE: `approved` → `provisioning`, or a
`provisioning` request whose claim has lapsed (PROVISIONING_LEASE_SECONDS after its last
recorded step, longer than the task's hard time limit, so the run that held it is dead). The
claim bumps `attempts`, which then fences every later write: a run that somehow lost its claim
cannot record anything.

Then the steps, each recorded in `steps_done` in the transaction that records its outcome and
its audit row (with the AWS request ids), so a re-run after a crash resumes where the dead run
stopped instead of repeating it:

- "iam_user": the person's live IAM user, or a new one tagged with the request and the owner
  (a user left by a crashed run is recognised by its tags).
- "group": the role-group's IAM group membership, and its Grant row.
- "console": a console password generated to the account policy is sealed into a credential
  link and committed *before* CreateLoginProfile(PasswordResetRequired=True), so a crash never
  leaves a password in AWS that nobody knows; a re-run sets the same password again. An
  existing console login is kept; one no longer wanted is removed.
- "access_key": keys of the user the portal has not recorded are deleted (a crash between
  CreateAccessKey and recording it left them), then a key is created and its secret sealed in
  the transaction that records its id. Keys no longer wanted are deleted.
- "notify": the credential link is issued and this step recorded in one transaction, then the
  email is sent. Recording before sending is what makes a crash produce at most one credential
  email: a re-run that finds "notify" never sends again. If the worker dies in the instant
  between that commit and the hand-over to the mail server, no email goes out; the request is
  then marked as needing attention, and a security admin re-issues the link.
- "active": the request is active, `provisioned_at` set.

Transient AWS errors (throttling, 5xx, connection) release the claim and ask the task to retry
with backoff; permanent ones, or transient ones past the last retry, mark the request failed
with a readable reason and email the security admins and the requester.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

import audit
from accounts import roles
from provisioning import aws, credentials, crypto, notifications
from provisioning.errors import PortalError, RequestNotFound
from provisioning.models import (
    AccessKeyRecord,
    AccessRequest,
    CredentialLink,
    Grant,
    IamAccount,
)
from provisioning.passwords import PasswordPolicy, password_generate
from provisioning.tasks import provision_access_request

logger = logging.getLogger(__name__)

Status = AccessRequest.Status
AccessType = AccessRequest.AccessType
CONSOLE_TYPES = (AccessType.CONSOLE, AccessType.BOTH)
KEY_TYPES = (AccessType.PROGRAMMATIC, AccessType.BOTH)


class ProvisioningDeferred(Exception):
    """A temporary failure: the claim was released, and the task should retry later."""


class ProvisioningNotAllowed(PortalError):
    """The actor may not operate provisioning (retry)."""


class _ClaimLost(Exception):
    """Another run holds the request now; this one must stop without writing."""


# --- Claiming -------------------------------------------------------------------------------


def _lease_start(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


def _claim(request_id: int) -> AccessRequest | None:
    now = timezone.now()
    claimable = Q(status=Status.APPROVED) | Q(
        status=Status.PROVISIONING, updated_at__lt=_lease_start(now)
    )
    claimed = (
        AccessRequest.objects.filter(claimable, pk=request_id).update(
            status=Status.PROVISIONING, attempts=F("attempts") + 1, updated_at=now
        )
        == 1
    )
    if not claimed:
        return None
    return AccessRequest.objects.select_related("requester", "role_group", "iam_account").get(
        pk=request_id
    )


def _target(access_request: AccessRequest) -> str:
    return f"access_request:{access_request.pk}"


def _fenced(access_request: AccessRequest) -> QuerySet[AccessRequest]:
    return AccessRequest.objects.filter(
        pk=access_request.pk, status=Status.PROVISIONING, attempts=access_request.attempts
    )


def _record(access_request: AccessRequest, step: str, **fields: Any) -> None:
    """Record a step (and any fields) if this run still holds the claim; it also renews it."""
    steps = [*access_request.steps_done, step]
    now = timezone.now()
    if _fenced(access_request).update(steps_done=steps, updated_at=now, **fields) != 1:
        raise _ClaimLost
    access_request.steps_done = steps
    access_request.updated_at = now
    for name, value in fields.items():
        setattr(access_request, name, value)


def _audit(
    access_request: AccessRequest, action: str, calls: aws.CallLog | None, **data: Any
) -> None:
    audit.record(
        action,
        target=_target(access_request),
        data={
            **data,
            "attempt": access_request.attempts,
            "aws_request_ids": calls.request_ids if calls else [],
        },
    )


# --- Steps ----------------------------------------------------------------------------------


@dataclass
class _Run:
    access_request: AccessRequest
    # True only when this very run created the IAM user: nothing else can be on it yet, so
    # the checks a resumed run needs (existing login profile, unrecorded keys) are skipped.
    created_user: bool = False
    link: CredentialLink | None = None

    @property
    def steps(self) -> list[str]:
        return self.access_request.steps_done


def _step_iam_user(run: _Run) -> IamAccount:
    access_request = run.access_request
    if "iam_user" in run.steps and access_request.iam_account is not None:
        return access_request.iam_account
    requester = access_request.requester
    existing = (
        IamAccount.objects.filter(owner=requester, status=IamAccount.Status.ACTIVE)
        .order_by("created_at")
        .first()
    )
    if existing is not None:
        with transaction.atomic():
            _record(access_request, "iam_user", iam_account=existing)
            _audit(access_request, "iam.user.reused", None, iam_user=existing.user_name)
        return existing
    user_name = access_request.iam_user_name
    if not user_name:
        raise PortalError("The request has no IAM user name; it was submitted without one.")
    with aws.recording() as calls:
        arn, created = aws.ensure_user(
            user_name, owner_email=requester.email, request_id=access_request.pk
        )
    with transaction.atomic():
        account = IamAccount.objects.select_for_update().filter(user_name=user_name).first()
        if account is not None and account.owner_id != requester.pk:
            raise PortalError(
                f"The IAM user name {user_name} belongs to another person in the portal."
            )
        if account is None:
            account = IamAccount.objects.create(owner=requester, user_name=user_name, arn=arn)
        else:
            account.arn = arn
            account.status = IamAccount.Status.ACTIVE
            account.save(update_fields=["arn", "status"])
        _record(access_request, "iam_user", iam_account=account)
        _audit(
            access_request,
            "iam.user.created" if created else "iam.user.adopted",
            calls,
            iam_user=user_name,
            arn=arn,
            tags={aws.OWNER_TAG: requester.email, aws.REQUEST_TAG: access_request.pk},
        )
    run.created_user = created
    return account


def _step_group(run: _Run, account: IamAccount) -> None:
    access_request = run.access_request
    role_group = access_request.role_group
    if role_group is None or "group" in run.steps:
        return
    with aws.recording() as calls:
        aws.ensure_group_membership(
            account.user_name,
            role_group.iam_group_name,
            policy_arns=list(role_group.managed_policy_arns),
        )
    with transaction.atomic():
        # A live grant of this role-group to the account (from an earlier request) is kept:
        # the partial unique constraint turns the insert into a no-op, in one statement.
        Grant.objects.bulk_create(
            [
                Grant(
                    iam_account=account,
                    role_group=role_group,
                    request=access_request,
                    ends_on=access_request.end_date,
                )
            ],
            ignore_conflicts=True,
        )
        _record(access_request, "group")
        _audit(
            access_request,
            "iam.group.added",
            calls,
            iam_user=account.user_name,
            iam_group=role_group.iam_group_name,
            role_group=role_group.name,
        )


def _pending_link(run: _Run, account: IamAccount) -> CredentialLink:
    """The link collecting this request's new credentials, kept for the rest of the run."""
    if run.link is None and run.created_user:
        # A user this run created has no links yet: no need to look for one.
        run.link = CredentialLink.objects.create(
            recipient_id=account.owner_id, iam_account=account, request=run.access_request
        )
    elif run.link is None:
        run.link = credentials.credential_link_pending(
            iam_account=account, access_request=run.access_request
        )
        # Already in memory: spare the email its queries.
        run.link.iam_account = account
        run.link.recipient = run.access_request.requester
        run.link.request = run.access_request
    return run.link


def _step_console(run: _Run, account: IamAccount) -> None:
    access_request = run.access_request
    if "console" in run.steps:
        return
    user_name = account.user_name
    wanted = access_request.access_type in CONSOLE_TYPES
    if not wanted:
        if run.created_user:
            return
        with aws.recording() as calls:
            removed = aws.delete_login_profile(user_name)
        with transaction.atomic():
            _record(access_request, "console")
            _audit(
                access_request,
                "iam.login_profile.deleted" if removed else "iam.login_profile.absent",
                calls,
                iam_user=user_name,
            )
        return
    # A run that died after sealing a password left it here: use that one, whether or not it
    # reached AWS, so AWS and the link agree.
    link = (
        None
        if run.created_user
        else CredentialLink.objects.filter(
            request=access_request,
            iam_account=account,
            issued_at__isnull=True,
            revoked_at__isnull=True,
            sealed_password__isnull=False,
        )
        .order_by("pk")
        .first()
    )
    password = credentials.credential_link_sealed_password(link=link) if link else None
    with aws.recording() as calls:
        if password is None and not run.created_user and aws.login_profile_exists(user_name):
            # The person already signs in to the console: their password stays theirs.
            with transaction.atomic():
                _record(access_request, "console")
                _audit(access_request, "iam.login_profile.kept", calls, iam_user=user_name)
            return
        if link is not None:
            run.link = link
        else:
            link = _pending_link(run, account)
            policy = PasswordPolicy.from_aws(aws.account_password_policy())
            password = password_generate(policy)
            # Committed before AWS hears of it (we are outside any transaction here).
            credentials.credential_link_seal_password(link=link, password=password)
        try:
            created = aws.ensure_login_profile(user_name, password)
        except aws.AwsError as error:
            if error.code == "PasswordPolicyViolation":
                # AWS refused this password (the policy changed under us): it is set nowhere,
                # so forget it and let the retry generate one to the new policy.
                CredentialLink.objects.filter(pk=link.pk).update(sealed_password=None)
                raise aws.AwsError(
                    error.code, error.message, error.operation, True, error.request_id
                ) from None
            raise
    with transaction.atomic():
        _record(access_request, "console")
        _audit(
            access_request,
            "iam.login_profile.created" if created else "iam.login_profile.updated",
            calls,
            iam_user=user_name,
            password_reset_required=True,
            link=link.pk,
        )


def _step_access_key(run: _Run, account: IamAccount) -> None:
    access_request = run.access_request
    if "access_key" in run.steps:
        return
    user_name = account.user_name
    wanted = access_request.access_type in KEY_TYPES
    if not wanted and run.created_user:
        return
    live: list[str] = []
    if not run.created_user:
        recorded = set(
            AccessKeyRecord.objects.filter(
                iam_account=account, deleted_at__isnull=True
            ).values_list("access_key_id", flat=True)
        )
        with aws.recording() as calls:
            in_aws = aws.access_key_ids(user_name)
            for key_id in in_aws:
                if wanted and key_id in recorded:
                    live.append(key_id)
                    continue
                aws.delete_access_key(user_name, key_id)
        with transaction.atomic():
            now = timezone.now()
            gone = [key_id for key_id in recorded if key_id not in live]
            AccessKeyRecord.objects.filter(access_key_id__in=gone).update(deleted_at=now)
            for key_id in in_aws:
                if key_id not in live:
                    _audit(
                        access_request,
                        "iam.access_key.deleted",
                        calls,
                        iam_user=user_name,
                        access_key_id=key_id,
                        reason="access key no longer wanted"
                        if not wanted
                        else "not recorded by the portal (left by an interrupted run)",
                    )
            if not wanted or live:
                _record(access_request, "access_key")
                if live:
                    _audit(
                        access_request,
                        "iam.access_key.kept",
                        None,
                        iam_user=user_name,
                        access_key_id=live[0],
                    )
                return
    with aws.recording() as calls:
        key_id, secret = aws.create_access_key(user_name)
    # The secret exists only in this process now: record the key and seal the secret together.
    with transaction.atomic():
        AccessKeyRecord.objects.create(
            iam_account=account, access_key_id=key_id, request=access_request
        )
        credentials.credential_link_seal_access_key(
            link=_pending_link(run, account), access_key_id=key_id, secret_access_key=secret
        )
        _record(access_request, "access_key")
        _audit(
            access_request,
            "iam.access_key.created",
            calls,
            iam_user=user_name,
            access_key_id=key_id,
        )


def _step_notify_and_finish(run: _Run, account: IamAccount) -> None:
    access_request = run.access_request
    emailed = False
    if "notify" not in run.steps:
        # This run's link, or (resuming) the one an earlier run filled.
        link = run.link or (
            CredentialLink.objects.filter(
                request=access_request, issued_at__isnull=True, revoked_at__isnull=True
            )
            .filter(Q(sealed_password__isnull=False) | Q(sealed_secret_key__isnull=False))
            .select_related("recipient", "iam_account", "request__role_group")
            .first()
        )
        token = ""
        with transaction.atomic():
            if link is not None:
                token = credentials.credential_link_issue(link=link)
            _record(access_request, "notify")
        try:
            if link is not None:
                notifications.credential_link_sent(link=link, token=token)
            else:
                notifications.provisioning_active(access_request)
        except OSError as error:
            # Certainly not sent: nobody holds the token, so undo the step and retry later.
            with transaction.atomic():
                if link is not None:
                    credentials.credential_link_withdraw(link=link)
                steps = [step for step in run.steps if step != "notify"]
                if _fenced(access_request).update(steps_done=steps) != 1:
                    raise _ClaimLost from None
                access_request.steps_done = steps
            raise ProvisioningDeferred(f"the email could not be sent ({error})") from None
        emailed = True
    with transaction.atomic():
        now = timezone.now()
        _record(
            access_request,
            "active",
            status=Status.ACTIVE,
            provisioned_at=now,
            failure_reason="" if emailed else credentials.EMAIL_UNCONFIRMED,
        )
        _audit(
            access_request,
            "request.provisioned",
            None,
            iam_user=account.user_name,
            role_group=access_request.role_group.name if access_request.role_group else None,
            access_type=access_request.access_type,
            email="sent" if emailed else "unconfirmed",
        )


# --- Failure and release --------------------------------------------------------------------

_OPERATIONS = {
    "CreateUser": "create the IAM user",
    "GetUser": "read the IAM user",
    "ListUserTags": "read the IAM user's tags",
    "AddUserToGroup": "add the IAM user to its group",
    "CreateGroup": "create the IAM group",
    "AttachGroupPolicy": "attach a policy to the IAM group",
    "GetAccountPasswordPolicy": "read the account's password policy",
    "GetLoginProfile": "check the console login",
    "CreateLoginProfile": "set the console password",
    "UpdateLoginProfile": "set the console password",
    "DeleteLoginProfile": "remove the console login",
    "CreateAccessKey": "create the access key",
    "ListAccessKeys": "list the access keys",
    "DeleteAccessKey": "delete an access key",
}


def failure_reason(error: aws.AwsError, *, gave_up: bool = False) -> str:
    """A sentence a security admin can act on."""
    what = _OPERATIONS.get(error.operation, error.operation or "call AWS")
    detail = f"{error.code}: {error.message}" if error.message else error.code
    if gave_up:
        return (
            f"AWS kept failing with a temporary error when asked to {what} ({detail}), "
            f"{settings.PROVISIONING_MAX_RETRIES + 1} attempts in all. Retry once AWS is healthy."
        )
    if error.code == "LimitExceeded":
        return (
            f"AWS refused to {what}: the account has reached an IAM quota ({detail}). "
            "Raise the quota or remove what is no longer used, then retry."
        )
    if error.code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return (
            f"The portal's AWS credentials are not allowed to {what} ({detail}). "
            "Grant the permission, then retry."
        )
    if error.code == "EntityAlreadyExists":
        return f"AWS refused to {what}: {error.message}. Resolve the name clash, then retry."
    if error.code == "NoSuchEntity":
        return f"AWS could not {what}: something it needs is missing ({detail})."
    return f"AWS refused to {what} ({detail})."


def _fail(access_request: AccessRequest, reason: str, error: aws.AwsError | None = None) -> None:
    with transaction.atomic():
        if (
            _fenced(access_request).update(
                status=Status.FAILED, failure_reason=reason, updated_at=timezone.now()
            )
            != 1
        ):
            raise _ClaimLost
        access_request.status = Status.FAILED
        access_request.failure_reason = reason
        audit.record(
            "request.provisioning_failed",
            target=_target(access_request),
            data={
                "reason": reason,
                "aws_error": error.code if error else None,
                "aws_request_ids": [error.request_id] if error and error.request_id else [],
                "attempt": access_request.attempts,
            },
        )
    try:
        notifications.provisioning_failed(access_request)
    except OSError:
        # The failure is recorded and on the operations page; the email is a courtesy.
        logger.exception("Could not email the failure of request %s", access_request.pk)


def _release(access_request: AccessRequest, reason: str) -> None:
    """Give the claim back (status approved) so the retry, or the sweeper, can take it."""
    with transaction.atomic():
        if (
            _fenced(access_request).update(
                status=Status.APPROVED,
                failure_reason=f"Waiting to retry: {reason}",
                updated_at=timezone.now(),
            )
            != 1
        ):
            raise _ClaimLost
        audit.record(
            "request.provisioning_deferred",
            target=_target(access_request),
            data={"reason": reason, "attempt": access_request.attempts},
        )


# --- Services -------------------------------------------------------------------------------


def access_request_provision(
    *,
    request_id: int,
    final_attempt: bool = False,
    interruptions: tuple[type[BaseException], ...] = (),
) -> str:
    """Provision an approved request, resuming from its recorded steps (see the module doc).

    Returns what happened: "active", "failed", or "skipped" when the request was not ours to
    take (gone, not approved, or claimed by a live run). Raises ProvisioningDeferred after a
    transient failure, once the claim is released, unless `final_attempt`. `interruptions`
    (the task's soft time limit) count as transient."""
    access_request = _claim(request_id)
    if access_request is None:
        return "skipped"
    try:
        return _provision(_Run(access_request), final_attempt, interruptions)
    except _ClaimLost:
        # Even while recording a failure: the run that holds the request now decides.
        logger.warning("Request %s: another run took over; this one stops.", request_id)
        return "skipped"


def _provision(
    run: _Run, final_attempt: bool, interruptions: tuple[type[BaseException], ...]
) -> str:
    access_request = run.access_request
    try:
        if not access_request.requester.is_active:
            raise PortalError(f"{access_request.requester} has left: nothing is provisioned.")
        account = _step_iam_user(run)
        _step_group(run, account)
        _step_console(run, account)
        _step_access_key(run, account)
        _step_notify_and_finish(run, account)
    except aws.AwsError as error:
        if error.transient and not final_attempt:
            _release(access_request, str(error))
            raise ProvisioningDeferred(str(error)) from None
        _fail(access_request, failure_reason(error, gave_up=error.transient), error)
        return "failed"
    except ProvisioningDeferred as deferred:
        if final_attempt:
            _fail(access_request, f"Could not finish: {deferred}. Retry once it is fixed.")
            return "failed"
        _release(access_request, str(deferred))
        raise
    except (PortalError, crypto.SealError) as error:
        _fail(access_request, str(error))
        return "failed"
    except interruptions:
        _release(access_request, "the run took longer than its time limit")
        raise ProvisioningDeferred("time limit") from None
    return "active"


def access_request_provision_crashed(*, request_id: int, error: BaseException) -> None:
    """A bug, not AWS: fail the request (if still in a run) so it does not loop forever."""
    access_request = (
        AccessRequest.objects.filter(pk=request_id, status=Status.PROVISIONING)
        .select_related("requester", "role_group")
        .first()
    )
    if access_request is None:
        return
    with contextlib.suppress(_ClaimLost):
        _fail(
            access_request,
            f"The worker hit an unexpected error ({type(error).__name__}); its log has the "
            "details. Retry once it is fixed.",
        )


def stuck_requests(*, now: datetime | None = None) -> QuerySet[AccessRequest]:
    """Approved requests nobody has picked up for PROVISIONING_STALE_SECONDS (their task was
    lost), and provisioning ones whose run's claim has lapsed (the worker died)."""
    now = now or timezone.now()
    return AccessRequest.objects.filter(
        Q(
            status=Status.APPROVED,
            updated_at__lt=now - timedelta(seconds=settings.PROVISIONING_STALE_SECONDS),
        )
        | Q(status=Status.PROVISIONING, updated_at__lt=_lease_start(now))
    )


def _requeue(access_request_id: int, seen_status: str, seen_updated_at: datetime) -> bool:
    # Back to approved, touched now: a dead run's claim is released, and the next sweep leaves
    # this request alone until it is stale again (a second sweeper racing us changes nothing).
    return (
        AccessRequest.objects.filter(
            pk=access_request_id, status=seen_status, updated_at=seen_updated_at
        ).update(status=Status.APPROVED, updated_at=timezone.now())
        == 1
    )


def stuck_requests_sweep(
    *, now: datetime | None = None, limit: int = 500, enqueue: Callable[[int], Any] | None = None
) -> list[int]:
    """Re-enqueue stuck requests (beat, every PROVISIONING_SWEEP_SECONDS). Returns their ids."""
    enqueue = enqueue or provision_access_request.delay
    swept = []
    for pk, status, updated_at in stuck_requests(now=now).values_list("pk", "status", "updated_at")[
        :limit
    ]:
        with transaction.atomic():
            if not _requeue(pk, status, updated_at):
                continue
            audit.record(
                "request.requeued",
                target=f"access_request:{pk}",
                data={"was": status, "idle_since": updated_at},
            )
        try:
            enqueue(pk)
        except Exception:
            # Still approved: the next sweep, once it is stale again, tries once more.
            logger.warning("Could not enqueue request %s; the next sweep retries.", pk)
            break
        swept.append(pk)
    if swept:
        logger.info("Re-enqueued %d stuck requests: %s", len(swept), swept)
    return swept


def access_request_retry(
    *, access_request_id: int, actor: Any, ip: str | None = None
) -> AccessRequest:
    """A security admin retries a failed or stuck request: back to approved, enqueued on
    commit. Its recorded steps stay, so the run resumes where the last one stopped."""
    if not actor.has_perm(roles.OPERATE_PROVISIONING):
        raise ProvisioningNotAllowed("Only security admins retry provisioning.")
    with transaction.atomic():
        access_request = (
            AccessRequest.objects.select_for_update().filter(pk=access_request_id).first()
        )
        if access_request is None:
            raise RequestNotFound(f"There is no request #{access_request_id}.")
        stuck = stuck_requests().filter(pk=access_request.pk).exists()
        if access_request.status != Status.FAILED and not stuck:
            raise PortalError(
                f"Request #{access_request.pk} is "
                f"{access_request.get_status_display().lower()}: there is nothing to retry."
            )
        previous = access_request.status
        access_request.status = Status.APPROVED
        access_request.failure_reason = ""
        access_request.save(update_fields=["status", "failure_reason", "updated_at"])
        audit.record(
            "request.provisioning_retried",
            actor=actor,
            target=_target(access_request),
            data={"was": previous, "steps_done": access_request.steps_done},
            ip=ip,
        )
        provision_access_request.delay_on_commit(access_request.pk)
    return access_request
