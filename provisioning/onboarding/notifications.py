"""The emails of provisioning: done without new credentials, or failed."""

from __future__ import annotations

from accounts.selectors import security_admin_emails
from common.emails import send_templated_email
from provisioning.models import AccessRequest


def provisioning_active(access_request: AccessRequest) -> None:
    """To the requester, when the request changed their IAM user without new credentials."""
    send_templated_email(
        "provisioning_active", [access_request.requester.email], {"access_request": access_request}
    )


def provisioning_failed(access_request: AccessRequest) -> None:
    """To the requester (what happens next) and to the security admins (the reason)."""
    send_templated_email(
        "provisioning_failed", [access_request.requester.email], {"access_request": access_request}
    )
    send_templated_email(
        "provisioning_failed_admins",
        security_admin_emails(),
        {"access_request": access_request},
    )
