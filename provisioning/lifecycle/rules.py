"""The rules of a grant's end, shared by asking (requests/plan.py) and granting (onboarding):
how long temporary access lasts, how far an extension may go. Pure: no writes, no AWS."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from provisioning.errors import RequestInvalid
from provisioning.models import AccessRequest, Grant, RoleGroup

# A role-group marked temporary without a maximum is granted for at most this long.
DEFAULT_MAX_HOURS = 4
MAX_HOURS_LIMIT = 168


def max_hours(role_group: RoleGroup) -> int:
    return role_group.max_duration_hours or DEFAULT_MAX_HOURS


def temporary_hours(role_group: RoleGroup, hours: int | None) -> int:
    """The hours asked for temporary access, within the role-group's maximum."""
    maximum = max_hours(role_group)
    if hours is None:
        raise RequestInvalid(
            f"{role_group.name} is temporary access: ask for it under Temporary access, "
            f"for at most {maximum} hours."
        )
    if not 1 <= hours <= maximum:
        raise RequestInvalid(f"{role_group.name} can be held for 1 to {maximum} hours at a time.")
    return hours


def extension_end_date(
    role_group: RoleGroup, grant: Grant, end_date: date | None, today: date
) -> date | None:
    """The new end of a grant being extended: after its current end, and no later than the
    role-group's maximum counted from today. Empty means the maximum (or no end, for a
    role-group without one)."""
    if end_date is not None and end_date < today:
        raise RequestInvalid("The end date cannot be in the past.")
    latest = (
        today + timedelta(days=role_group.max_duration_days)
        if role_group.max_duration_days
        else None
    )
    if end_date is None:
        end_date = latest
    if latest is not None and end_date is not None and end_date > latest:
        raise RequestInvalid(
            f"{role_group.name} can be held for at most {role_group.max_duration_days} days "
            f"from today: choose an end date on or before {latest:%d %b %Y}."
        )
    if end_date is not None and grant.ends_on is not None and end_date <= grant.ends_on:
        raise RequestInvalid(
            f"Choose an end date after the current one ({grant.ends_on:%d %b %Y})."
        )
    return end_date


def grant_end(
    access_request: AccessRequest, *, start: datetime
) -> tuple[date | None, datetime | None]:
    """(ends_on, ends_at) of access granted at `start`: temporary access ends exactly its
    hours after it starts, anything else on the request's end date."""
    if access_request.duration_hours:
        ends_at = start + timedelta(hours=access_request.duration_hours)
        return timezone.localdate(ends_at), ends_at
    return access_request.end_date, None
