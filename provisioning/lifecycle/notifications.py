"""The emails of access over time: warnings before an end, the end itself, extensions, and
access reviews. They carry links to the portal, never a secret; templates in templates/emails/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from accounts.models import User
from accounts.selectors import security_admin_emails, security_admins
from common.emails import send_templated_email
from provisioning.models import AccessRequest, AccessReview, Grant


def _holder_and_manager(grant: Grant) -> list[str]:
    holder = grant.iam_account.owner
    manager = holder.manager
    return [holder.email, *([manager.email] if manager and manager.is_active else [])]


def grant_ended(grant: Grant) -> None:
    """To the holder and their manager: the access is gone from AWS, how and why."""
    send_templated_email("grant_ended", _holder_and_manager(grant), {"grant": grant})


def grant_removal_failed(grant: Grant) -> None:
    send_templated_email("grant_removal_failed_admins", security_admin_emails(), {"grant": grant})


def grants_expiring(person: User, grants: Sequence[Grant], *, today: date) -> None:
    """To the holder, 7 days and 1 day before: what ends, and how to extend it."""
    send_templated_email(
        "grant_expiring",
        [person.email],
        {
            "person": person,
            "grants": [(grant, (grant.ends_on - today).days) for grant in grants if grant.ends_on],
        },
    )


def grant_extended(access_request: AccessRequest, grant: Grant) -> None:
    send_templated_email(
        "grant_extended",
        [access_request.requester.email],
        {"access_request": access_request, "grant": grant},
    )


def _security_pool(excluding: set[int]) -> list[str]:
    return [admin.email for admin in security_admins() if admin.pk not in excluding]


def review_assigned(campaign: AccessReview, counts: dict[User | None, int]) -> None:
    """To each reviewer (managers by name; the security admins for what is routed to them)."""
    for reviewer, count in counts.items():
        recipients = [reviewer.email] if reviewer is not None else _security_pool(set())
        send_templated_email(
            "review_assigned",
            recipients,
            {"campaign": campaign, "count": count, "security_pool": reviewer is None},
        )


def review_reminder(address: str, campaigns: dict[AccessReview, int]) -> None:
    send_templated_email(
        "review_reminder",
        [address],
        {"campaigns": sorted(campaigns.items(), key=lambda c: c[0].deadline)},
    )


def review_escalated(campaign: AccessReview, count: int) -> None:
    send_templated_email(
        "review_escalated", _security_pool(set()), {"campaign": campaign, "count": count}
    )
