"""Extending a grant: asked from My access, approved like any request (the same route, the
second approval for sensitive role-groups, the same separation of duties: requests/decisions),
and applied by the worker once approved. The grant keeps its history: the same row, a later
end, and a `grant.extended` row saying from when to when."""

from __future__ import annotations

import logging
from datetime import date

from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User
from provisioning.errors import GrantNotFound, PortalError
from provisioning.lifecycle import notifications, rules, selectors
from provisioning.lifecycle.ending import grant_payload
from provisioning.models import AccessRequest, Grant
from provisioning.onboarding.claims import record_step
from provisioning.requests.selectors import current_access_type
from provisioning.requests.submit import access_request_submit

logger = logging.getLogger(__name__)


def grant_extension_request(
    *,
    grant_id: int,
    requester: User,
    justification: str,
    end_date: date | None = None,
    duration_hours: int | None = None,
    ip: str | None = None,
) -> AccessRequest:
    """Ask for a later end of a grant one holds: an access request of kind "extension",
    which the requester's usual approver decides."""
    grant = selectors.grant_for_action(grant_id)
    if grant is None or grant.iam_account.owner_id != requester.pk:
        raise GrantNotFound(f"There is no grant #{grant_id}.")
    access_type = current_access_type(requester) or (
        grant.request.access_type if grant.request else AccessRequest.AccessType.CONSOLE
    )
    (created,) = access_request_submit(
        requester=requester,
        access_type=access_type,
        justification=justification,
        extends=grant,
        end_date=end_date,
        duration_hours=duration_hours,
        ip=ip,
    )
    return created


def grant_extension_apply(access_request: AccessRequest) -> None:
    """The worker's part once an extension is approved (the provisioning run claimed it): the
    grant gets its new end, or the request fails if the grant ended meanwhile."""
    with transaction.atomic():
        grant = (
            Grant.objects.select_for_update(of=("self",))
            .select_related("iam_account__owner", "role_group")
            .filter(pk=access_request.grant_id or 0)
            .first()
        )
        if grant is None or grant.state != Grant.State.ACTIVE:
            raise PortalError(
                "The access this request would extend ended before the extension was "
                "approved: ask for it again."
            )
        before = {"ends_on": grant.ends_on, "ends_at": grant.ends_at}
        now = timezone.now()
        grant.ends_on, grant.ends_at = rules.grant_end(access_request, start=now)
        grant.warned_week_at = grant.warned_day_at = None
        grant.save(
            update_fields=["ends_on", "ends_at", "warned_week_at", "warned_day_at", "updated_at"]
        )
        record_step(
            access_request,
            "active",
            status=AccessRequest.Status.ACTIVE,
            provisioned_at=now,
            failure_reason="",
        )
        audit.record(
            "grant.extended",
            target=grant.audit_target,
            subject=grant.iam_account.owner_id,
            data={
                **grant_payload(grant),
                "request": access_request.pk,
                "from": before,
                "to": {"ends_on": grant.ends_on, "ends_at": grant.ends_at},
                "attempt": access_request.attempts,
            },
        )
    try:
        notifications.grant_extended(access_request, grant)
    except OSError:
        logger.exception("Could not email the extension of grant %s", grant.pk)
