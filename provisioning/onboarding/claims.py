"""The claim on a request, its fence, and the steps a run records under it."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

import audit
from provisioning import aws
from provisioning.models import AccessRequest
from provisioning.onboarding.selectors import lease_start

Status = AccessRequest.Status


class ProvisioningDeferred(Exception):
    """A temporary failure: the claim was released, and the task should retry later."""


class ClaimLost(Exception):
    """Another run holds the request now; this one must stop without writing."""


def claim(request_id: int) -> AccessRequest | None:
    now = timezone.now()
    claimable = Q(status=Status.APPROVED) | Q(
        status=Status.PROVISIONING, updated_at__lt=lease_start(now)
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


def fenced(access_request: AccessRequest) -> QuerySet[AccessRequest]:
    return AccessRequest.objects.filter(
        pk=access_request.pk, status=Status.PROVISIONING, attempts=access_request.attempts
    )


def record_step(access_request: AccessRequest, step: str, **fields: Any) -> None:
    """Record a step (and any fields) if this run still holds the claim; it also renews it."""
    steps = [*access_request.steps_done, step]
    now = timezone.now()
    if fenced(access_request).update(steps_done=steps, updated_at=now, **fields) != 1:
        raise ClaimLost
    access_request.steps_done = steps
    access_request.updated_at = now
    for name, value in fields.items():
        setattr(access_request, name, value)


def audit_step(
    access_request: AccessRequest, action: str, calls: aws.CallLog | None, **data: Any
) -> None:
    audit.record(
        action,
        target=access_request.audit_target,
        subject=access_request.requester_id,
        data={
            **data,
            "attempt": access_request.attempts,
            "aws_request_ids": calls.request_ids if calls else [],
        },
    )
