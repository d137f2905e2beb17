"""Which IAM users the guardrails look after: the portal's live ones, of people still here."""

from __future__ import annotations

from django.db.models import QuerySet

from provisioning.models import IamAccount


def watched_accounts() -> QuerySet[IamAccount]:
    return (
        IamAccount.objects.filter(status=IamAccount.Status.ACTIVE, owner__is_active=True)
        .select_related("owner")
        .order_by("pk")
    )
