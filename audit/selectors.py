from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent


def audit_events(
    *,
    person: str = "",
    actor: str = "",
    action: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Events matching the viewer's filters, newest first.

    `person` matches a person as actor or as the event's target (`person:<id>`) or by email in
    the event's data; `actor` matches the actor's email."""
    events = AuditEvent.objects.all()
    if person:
        condition = Q(actor_label__icontains=person) | Q(data__email__icontains=person)
        if person.isdigit():
            condition |= Q(target=f"person:{person}") | Q(actor_id=int(person))
        events = events.filter(condition)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if action:
        events = events.filter(action__startswith=action)
    tz = timezone.get_current_timezone()
    if since:
        events = events.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        events = events.filter(created_at__lte=datetime.combine(until, time.max, tzinfo=tz))
    return events.order_by("-id")


def latest_event(action: str) -> AuditEvent | None:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()
