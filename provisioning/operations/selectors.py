"""Reads for the operations page (security admins), each at a constant number of queries."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from provisioning.models import AccessRequest, CredentialLink, IamAccount
from provisioning.onboarding.selectors import stuck_requests

Status = AccessRequest.Status


def requests_needing_attention(*, now: datetime | None = None) -> QuerySet[AccessRequest]:
    """Failed requests, stuck ones (see `stuck_requests`), and active ones whose credential
    email may not have gone out; the most recently changed first."""
    stuck = stuck_requests(now=now).values("pk")
    return (
        AccessRequest.objects.filter(
            Q(status=Status.FAILED)
            | Q(pk__in=stuck)
            | Q(status=Status.ACTIVE, credential_email_unconfirmed=True)
        )
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
    query = query.strip()
    if not query:
        return []
    return list(
        IamAccount.objects.filter(status=IamAccount.Status.ACTIVE)
        .filter(Q(user_name__icontains=query) | Q(owner__email__icontains=query))
        .select_related("owner")
        .order_by("user_name")[:limit]
    )
