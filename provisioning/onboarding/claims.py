"""The claim on a request, its fence, and the steps a run records under it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

import audit
from provisioning import aws
from provisioning.models import AccessRequest, CredentialLink
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


_batch = threading.local()


@contextmanager
def steps_batch(access_request: AccessRequest) -> Iterator[None]:
    """The steps recorded inside are written by one fenced UPDATE when the block ends (inside
    the caller's transaction, which a lost claim rolls back)."""
    _batch.fields = {}
    try:
        yield
        fields = _batch.fields
    finally:
        _batch.fields = None
    if fields and fenced(access_request).update(**fields) != 1:
        raise ClaimLost


def record_step(access_request: AccessRequest, step: str, **fields: Any) -> None:
    """Record a step (and any fields) if this run still holds the claim; it also renews it."""
    steps = [*access_request.steps_done, step]
    now = timezone.now()
    batched = getattr(_batch, "fields", None)
    if batched is not None:
        batched.update(steps_done=steps, updated_at=now, **fields)
    elif fenced(access_request).update(steps_done=steps, updated_at=now, **fields) != 1:
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


@dataclass
class Run:
    access_request: AccessRequest
    # True only when this very run created the IAM user: nothing else can be on it yet, so
    # the checks a resumed run needs (existing login profile, unrecorded keys) are skipped.
    created_user: bool = False
    link: CredentialLink | None = None
    # The records of steps done in AWS but not yet committed (see `record`).
    pending: list[Callable[[], None]] = field(default_factory=list)

    @property
    def steps(self) -> list[str]:
        return self.access_request.steps_done

    def record(self, write: Callable[[], None]) -> None:
        """Commit a step's outcome (its rows, its step, its audit rows). In a run that created
        the IAM user, it waits for `flush`, so two steps commit together: a run dying between
        them redoes only calls that are idempotent (AddUserToGroup; UpdateLoginProfile with the
        password sealed before; a key never recorded, deleted on retry), and finds the user
        it left through its tags."""
        if self.created_user:
            self.pending.append(write)
            return
        with transaction.atomic(), audit.batch():
            write()

    def flush(self) -> None:
        """Commit the records waiting, in one transaction with one append to the audit chain."""
        writes, self.pending = self.pending, []
        if writes:
            with transaction.atomic(), audit.batch(), steps_batch(self.access_request):
                for write in writes:
                    write()
