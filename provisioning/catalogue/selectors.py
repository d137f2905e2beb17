"""Reads for the catalogue pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

import audit
from provisioning.models import RoleGroup


@dataclass(frozen=True)
class SyncReport:
    at: datetime
    by: str
    changes: list[str]
    error: str


def role_groups_for_catalogue() -> QuerySet[RoleGroup]:
    return RoleGroup.objects.order_by("-active", "name")


def role_groups_offered() -> QuerySet[RoleGroup]:
    """What people can request: active role-groups whose IAM group a sync has made."""
    return RoleGroup.objects.filter(active=True, synced_at__isnull=False).order_by("name")


def catalogue_last_sync() -> SyncReport | None:
    """The last sync, as the audit trail recorded it."""
    event = audit.last_event("catalogue.synced")
    if event is None:
        return None
    return SyncReport(
        at=event.created_at,
        by=event.actor_label,
        changes=list(event.data.get("changes", [])),
        error=event.data.get("error", ""),
    )
