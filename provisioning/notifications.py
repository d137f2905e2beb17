"""The emails of the access lifecycle. They carry links to the portal, never a secret.

Each section belongs to one part of the lifecycle; templates live in `templates/emails/`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from accounts.emails import send_templated_email
from provisioning import selectors

# --- Requests and decisions -----------------------------------------------------------------


def _security_admin_emails(*, excluding: Sequence[int | None] = ()) -> list[str]:
    return [admin.email for admin in selectors.security_admins() if admin.pk not in set(excluding)]


def request_submitted(access_requests: Sequence[Any], *, approver: Any | None) -> None:
    """To the first-stage approver: the manager, or the security admins for a person without one."""
    if not access_requests:
        return
    requester = access_requests[0].requester
    if approver is not None:
        recipients = [approver.email]
    else:
        recipients = _security_admin_emails(excluding=[requester.pk])
    send_templated_email(
        "request_submitted",
        recipients,
        {
            "requester": requester,
            "access_requests": access_requests,
            "has_manager": approver is not None,
        },
    )


def request_decided(access_request: Any, approval: Any) -> None:
    """To the requester, on every decision: approved, awaiting second approval, or rejected."""
    if approval.decision == approval.Decision.REJECTED:
        name = "request_rejected"
    elif access_request.status == access_request.Status.AWAITING_SECOND_APPROVAL:
        name = "request_awaiting_second_approval"
    else:
        name = "request_approved"
    send_templated_email(
        name,
        [access_request.requester.email],
        {"access_request": access_request, "approval": approval},
    )


def second_approval_needed(access_request: Any, first_approval: Any) -> None:
    """To every security admin who may give the second approval."""
    send_templated_email(
        "request_second_approval_needed",
        _security_admin_emails(excluding=[access_request.requester_id, first_approval.approver_id]),
        {"access_request": access_request, "approval": first_approval},
    )


def approval_reminder(address: str, access_requests: Sequence[Any], *, now: datetime) -> None:
    send_templated_email(
        "request_reminder", [address], {"access_requests": access_requests, "now": now}
    )


# --- Provisioning and credentials -----------------------------------------------------------


def credential_link_sent(*, link: Any, token: str, reissued: bool = False) -> None:
    """To the owner: the one-time link to their new credentials. The link, never a secret."""
    from django.urls import reverse

    send_templated_email(
        "credential_link",
        [link.recipient.email],
        {
            "link": link,
            "path": reverse("credential_link", args=[token]),
            "reissued": reissued,
            "console": link.sealed_password is not None,
            "access_key": link.sealed_secret_key is not None,
        },
    )


def provisioning_active(access_request: Any) -> None:
    """To the requester, when the request changed their IAM user without new credentials."""
    send_templated_email(
        "provisioning_active", [access_request.requester.email], {"access_request": access_request}
    )


def provisioning_failed(access_request: Any) -> None:
    """To the requester (what happens next) and to the security admins (the reason)."""
    send_templated_email(
        "provisioning_failed", [access_request.requester.email], {"access_request": access_request}
    )
    send_templated_email(
        "provisioning_failed_admins",
        _security_admin_emails(),
        {"access_request": access_request},
    )
