"""Re-enqueueing stuck requests, and a security admin's retry of a failed one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from provisioning import queue
from provisioning.errors import PortalError, ProvisioningNotAllowed, RequestNotFound
from provisioning.models import AccessRequest
from provisioning.onboarding.selectors import stuck_requests

logger = logging.getLogger(__name__)

Status = AccessRequest.Status


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
    enqueue = enqueue or queue.provision_now
    swept = []
    stuck = stuck_requests(now=now).values_list("pk", "status", "updated_at", "requester_id")
    for pk, status, updated_at, requester_id in stuck[:limit]:
        with transaction.atomic():
            if not _requeue(pk, status, updated_at):
                continue
            audit.record(
                "request.requeued",
                target=f"access_request:{pk}",
                subject=requester_id,
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
    *, access_request_id: int, actor: User, ip: str | None = None
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
            target=access_request.audit_target,
            subject=access_request.requester_id,
            data={"was": previous, "steps_done": access_request.steps_done},
            ip=ip,
        )
        queue.provision_on_commit(access_request.pk)
    return access_request
