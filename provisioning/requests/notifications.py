"""The emails of requests and decisions. They carry links to the portal, never a secret;
templates live in `templates/emails/`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from accounts.models import User
from accounts.selectors import security_admin_emails
from common.emails import send_templated_email
from provisioning.models import AccessRequest, Approval


def request_submitted(access_requests: Sequence[AccessRequest], *, approver: User | None) -> None:
    """To the first-stage approver: the manager, or the security admins for a person without one."""
    if not access_requests:
        return
    requester = access_requests[0].requester
    if approver is not None:
        recipients = [approver.email]
    else:
        recipients = security_admin_emails(excluding=(requester.pk,))
    send_templated_email(
        "request_submitted",
        recipients,
        {
            "requester": requester,
            "access_requests": access_requests,
            "has_manager": approver is not None,
        },
    )


def request_decided(access_request: AccessRequest, approval: Approval) -> None:
    """To the requester, on every decision: approved, awaiting second approval, or rejected."""
    if approval.decision == Approval.Decision.REJECTED:
        name = "request_rejected"
    elif access_request.status == AccessRequest.Status.AWAITING_SECOND_APPROVAL:
        name = "request_awaiting_second_approval"
    else:
        name = "request_approved"
    send_templated_email(
        name,
        [access_request.requester.email],
        {"access_request": access_request, "approval": approval},
    )


def second_approval_needed(access_request: AccessRequest, first_approval: Approval) -> None:
    """To every security admin who may give the second approval."""
    send_templated_email(
        "request_second_approval_needed",
        security_admin_emails(excluding=(access_request.requester_id, first_approval.approver_id)),
        {"access_request": access_request, "approval": first_approval},
    )


def approval_reminder(
    address: str, access_requests: Sequence[AccessRequest], *, now: datetime
) -> None:
    send_templated_email(
        "request_reminder", [address], {"access_requests": access_requests, "now": now}
    )
