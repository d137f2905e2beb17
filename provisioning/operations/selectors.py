"""Reads for the operations page (security admins), each at a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from accounts import roles
from accounts.models import User
from audit.models import AuditEvent
from provisioning.models import AccessRequest, CredentialLink, IamAccount, Offboarding
from provisioning.offboarding.selectors import UNFINISHED_STATUSES
from provisioning.onboarding.selectors import slow_condition, stuck_condition
from provisioning.requests.selectors import approvals_waiting_count

Status = AccessRequest.Status


def requests_needing_attention(*, now: datetime | None = None) -> QuerySet[AccessRequest]:
    """Failed requests; stuck ones (see `stuck_requests`, marked `is_stuck`: a retry may take
    them); slow ones, approved over PROVISIONING_SLOW_SECONDS ago and not provisioned yet; and
    active ones whose credential email may not have gone out. The most recently changed first."""
    now = now or timezone.now()
    # The conditions themselves, not `pk IN (subquery)`: one pass over the table, by index.
    stuck = stuck_condition(now)
    return (
        AccessRequest.objects.filter(
            Q(status=Status.FAILED)
            | stuck
            | slow_condition(now)
            | Q(status=Status.ACTIVE, credential_email_unconfirmed=True)
        )
        .annotate(is_stuck=ExpressionWrapper(stuck, output_field=BooleanField()))
        .select_related("requester", "role_group", "iam_account")
        .order_by("-updated_at", "-pk")
    )


def uncollected_credential_links(*, now: datetime | None = None) -> QuerySet[CredentialLink]:
    """Links that expired before their recipient revealed them (and were not replaced)."""
    return (
        CredentialLink.objects.filter(
            issued_at__isnull=False,
            revealed_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__lte=now or timezone.now(),
        )
        .select_related("recipient", "iam_account")
        .order_by("-expires_at", "-pk")
    )


def iam_accounts_matching(query: str, *, limit: int = 20) -> list[IamAccount]:
    """Live IAM users for re-issue: each word of `query` (any case) in the user name, or in
    the owner's email or name, so "ada lovelace", "Lovelace" and "ada@" all find Ada's."""
    words = query.split()
    if not words:
        return []
    condition = Q()
    for word in words:
        condition &= (
            Q(user_name__icontains=word)
            | Q(owner__email__icontains=word)
            | Q(owner__full_name__icontains=word)
        )
    return list(
        IamAccount.objects.filter(status=IamAccount.Status.ACTIVE)
        .filter(condition)
        .select_related("owner")
        .order_by("user_name")[:limit]
    )


# --- Each role's home page ---------------------------------------------------------------------


@dataclass(frozen=True)
class HomeCount:
    """One figure on a person's home page: what it counts, how many, where to act on it."""

    label: str
    count: int
    url_name: str
    urgent: bool = False


def home_counts(user: User) -> list[HomeCount]:
    """The figures of every role the person has, one query each."""
    counts = [
        HomeCount(
            "My open requests",
            AccessRequest.objects.filter(
                requester=user, status__in=AccessRequest.OPEN_STATUSES
            ).count(),
            "my_access",
        ),
        HomeCount(
            "Credentials waiting for me",
            CredentialLink.objects.filter(
                recipient=user,
                revealed_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=timezone.now(),
            ).count(),
            "my_access",
            urgent=True,
        ),
    ]
    if roles.is_manager(user) or roles.is_security_admin(user):
        counts.append(
            HomeCount(
                "Approvals waiting for me",
                approvals_waiting_count(user),
                "approvals",
                urgent=True,
            )
        )
    if roles.is_security_admin(user):
        counts.append(
            HomeCount(
                "Provisioning needing attention",
                requests_needing_attention().count(),
                "operations",
                urgent=True,
            )
        )
    if roles.is_hr(user) or roles.is_security_admin(user):
        counts.append(
            HomeCount(
                "Offboardings in progress",
                Offboarding.objects.filter(status__in=UNFINISHED_STATUSES).count(),
                "people_directory" if roles.is_hr(user) else "operations",
            )
        )
    if roles.is_auditor(user):
        counts.append(
            HomeCount(
                "Audit events in the last 24 hours",
                AuditEvent.objects.filter(
                    created_at__gte=timezone.now() - timedelta(days=1)
                ).count(),
                "audit_log",
            )
        )
    return counts
