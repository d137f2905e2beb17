"""Reads about provisioning runs: when a claim has lapsed, and which requests are stuck."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from provisioning.models import AccessRequest

Status = AccessRequest.Status


def lease_start(now: datetime) -> datetime:
    """A run's claim lapses PROVISIONING_LEASE_SECONDS after its last recorded step."""
    return now - timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


def stuck_condition(now: datetime) -> Q:
    """The filter of `stuck_requests`, to combine with others in one WHERE."""
    return Q(
        status=Status.APPROVED,
        updated_at__lt=now - timedelta(seconds=settings.PROVISIONING_STALE_SECONDS),
    ) | Q(status=Status.PROVISIONING, updated_at__lt=lease_start(now))


def slow_condition(now: datetime) -> Q:
    """The filter of `slow_requests`, to combine with others in one WHERE."""
    return Q(
        status__in=(Status.APPROVED, Status.PROVISIONING),
        decided_at__lt=now - timedelta(seconds=settings.PROVISIONING_SLOW_SECONDS),
    )


def stuck_requests(*, now: datetime | None = None) -> QuerySet[AccessRequest]:
    """Approved requests nobody has picked up for PROVISIONING_STALE_SECONDS (their task was
    lost), and provisioning ones whose run's claim has lapsed (the worker died)."""
    return AccessRequest.objects.filter(stuck_condition(now or timezone.now()))


def slow_requests(*, now: datetime | None = None) -> QuerySet[AccessRequest]:
    """Approved over PROVISIONING_SLOW_SECONDS ago and still not provisioned: the requester
    is told it is taking longer than usual, and the security admins are told once."""
    return AccessRequest.objects.filter(slow_condition(now or timezone.now()))
