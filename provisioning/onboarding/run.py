"""A provisioning run: claim, steps, and the one failure path (see the package docstring)."""

from __future__ import annotations

import contextlib
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from provisioning import aws
from provisioning.credentials import crypto
from provisioning.errors import PortalError
from provisioning.lifecycle.extend import grant_extension_apply
from provisioning.models import AccessRequest
from provisioning.onboarding import notifications
from provisioning.onboarding.claims import ClaimLost, ProvisioningDeferred, Run, claim, fenced
from provisioning.onboarding.steps import (
    step_access_key,
    step_console,
    step_group,
    step_iam_user,
    step_notify_and_finish,
)

logger = logging.getLogger(__name__)

Status = AccessRequest.Status

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
            fenced(access_request).update(
                status=Status.FAILED, failure_reason=reason, updated_at=timezone.now()
            )
            != 1
        ):
            raise ClaimLost
        access_request.status = Status.FAILED
        access_request.failure_reason = reason
        audit.record(
            "request.provisioning_failed",
            target=access_request.audit_target,
            subject=access_request.requester_id,
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
            fenced(access_request).update(
                status=Status.APPROVED,
                failure_reason=f"Waiting to retry: {reason}",
                updated_at=timezone.now(),
            )
            != 1
        ):
            raise ClaimLost
        audit.record(
            "request.provisioning_deferred",
            target=access_request.audit_target,
            subject=access_request.requester_id,
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
    access_request = claim(request_id)
    if access_request is None:
        return "skipped"
    try:
        return _provision(Run(access_request), final_attempt, interruptions)
    except ClaimLost:
        # Even while recording a failure: the run that holds the request now decides.
        logger.warning("Request %s: another run took over; this one stops.", request_id)
        return "skipped"


def _provision(
    run: Run, final_attempt: bool, interruptions: tuple[type[BaseException], ...]
) -> str:
    access_request = run.access_request
    try:
        if not access_request.requester.is_active:
            raise PortalError(f"{access_request.requester} has left: nothing is provisioned.")
        if access_request.kind == AccessRequest.Kind.EXTENSION:
            # A later end for a grant held now: nothing changes in AWS.
            grant_extension_apply(access_request)
            return "active"
        try:
            account = step_iam_user(run)
            step_group(run, account)
            run.flush()
            step_console(run, account)
            step_access_key(run, account)
            run.flush()
        except BaseException:
            # What AWS has done is recorded before the failure is handled.
            run.flush()
            raise
        step_notify_and_finish(run, account)
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
    with contextlib.suppress(ClaimLost):
        _fail(
            access_request,
            f"The worker hit an unexpected error ({type(error).__name__}); its log has the "
            "details. Retry once it is fixed.",
        )
