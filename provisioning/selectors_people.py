"""A person's access, for the people directory (accounts imports nothing from provisioning,
so the people pages ask here)."""

from __future__ import annotations

from django.db.models import Prefetch

from accounts.models import User
from provisioning.models import Grant, IamAccount


def access_for_person(person: User) -> list[IamAccount]:
    """The person's IAM accounts, each with its live grants (`live_grants`) and role-groups."""
    live_grants = (
        Grant.objects.filter(revoked_at__isnull=True)
        .select_related("role_group")
        .order_by("role_group__name")
    )
    accounts = IamAccount.objects.filter(owner=person).prefetch_related(
        Prefetch("grants", queryset=live_grants, to_attr="live_grants")
    )
    return list(accounts.order_by("user_name"))
