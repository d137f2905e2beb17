"""The emails of requests and decisions. They carry links to the portal, never a secret;
templates live in `templates/emails/`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from accounts.models import ApprovalEmails, User
from accounts.selectors import security_admins
from common.emails import send_templated_email
from provisioning.models import AccessRequest, Approval
from provisioning.requests import selectors


def _security_deciders(requester: User, *, excluding: tuple[int, ...] = ()) -> list[str]:
    """The security admins who may decide for this requester (not them, not their recent
    placer in the org chart, not `excluding`)."""
    return [
        admin.email
        for admin in security_admins()
        if admin.pk not in excluding
        and selectors.may_decide_for(admin, requester)
        and wants_each_email(admin)
    ]


def wants_each_email(person: User) -> bool:
    """Approvers who chose the daily digest get no email per request."""
    return person.approval_emails != ApprovalEmails.DAILY


def request_submitted(access_requests: Sequence[AccessRequest], *, approver: User | None) -> None:
    """To the first-stage approver: the manager, or the security admins for a person without one."""
    if not access_requests:
        return
    requester = access_requests[0].requester
    if approver is not None:
        recipients = [approver.email] if wants_each_email(approver) else []
    else:
        recipients = _security_deciders(requester)
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
        _security_deciders(access_request.requester, excluding=(first_approval.approver_id,)),
        {"access_request": access_request, "approval": first_approval},
    )


def request_rerouted(
    access_request: AccessRequest, *, previous: User | None, actor: User | None
) -> None:
    """To whoever decides a request now that its requester moved in the org chart."""
    approver = access_request.first_approver
    recipients = (
        [approver.email] if approver is not None else _security_deciders(access_request.requester)
    )
    send_templated_email(
        "request_rerouted",
        recipients,
        {"access_request": access_request, "previous": previous, "actor": actor},
    )


def approval_reminder(
    address: str, access_requests: Sequence[AccessRequest], *, now: datetime
) -> None:
    send_templated_email(
        "request_reminder", [address], {"access_requests": access_requests, "now": now}
    )
