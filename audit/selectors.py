from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent

# More people than this matching a name is a search to narrow, not a filter to run.
PEOPLE_MATCH_LIMIT = 50


def audit_events(
    *,
    people: Iterable[int] = (),
    actor: str = "",
    actions: Iterable[str] = (),
    target: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Events matching the viewer's filters, newest first.

    `people`: events done by or to any of these people (as actor, or as the subject: their
    requests, the decisions on them, their IAM users and the AWS steps for them), both
    indexed. `actions`: action names, or a family as "request.*". `actor` matches the actor's
    email or system name; `target` a target exactly ("access_request:12")."""
    events = AuditEvent.objects.all()
    ids = list(people)
    if ids:
        events = events.filter(Q(actor_id__in=ids) | Q(subject_id__in=ids))
    if actor:
        events = events.filter(actor_label__icontains=actor)
    wanted = list(actions)
    if wanted:
        condition = Q(action__in=[name for name in wanted if not name.endswith(".*")])
        for family in (name[:-1] for name in wanted if name.endswith(".*")):
            condition |= Q(action__startswith=family)
        events = events.filter(condition)
    if target:
        events = events.filter(target=target)
    tz = timezone.get_current_timezone()
    if since:
        events = events.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        events = events.filter(created_at__lte=datetime.combine(until, time.max, tzinfo=tz))
    return events.order_by("-id")


def audit_action_names() -> list[str]:
    """Every action name the trail holds, sorted. On Postgres a loose index scan: one index
    probe per distinct name, however many rows (a plain DISTINCT reads the whole index)."""
    if connection.vendor != "postgresql":
        return list(
            AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        )
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE names(action) AS (
                (SELECT action FROM {table} ORDER BY action LIMIT 1)
                UNION ALL
                SELECT (SELECT e.action FROM {table} e WHERE e.action > names.action
                        ORDER BY e.action LIMIT 1)
                FROM names WHERE names.action IS NOT NULL
            )
            SELECT action FROM names WHERE action IS NOT NULL
            """  # noqa: S608 (the table's own name, no input)
        )
        return [row[0] for row in cursor.fetchall()]


def _name_fields() -> list[str]:
    """The person model's name fields (the trail imports none of our models)."""
    names = {field.name for field in get_user_model()._meta.get_fields()}
    return [field for field in ("full_name", "first_name", "last_name") if field in names]


def people_matching(text: str) -> list[int]:
    """Ids of the people `text` names: an id; an exact email; else everyone whose email or
    name holds every word of it, case-insensitively (at most PEOPLE_MATCH_LIMIT + 1, so the
    caller can tell a search too wide)."""
    text = text.strip()
    if not text:
        return []
    User = get_user_model()
    if text.isdigit():
        return [int(text)]
    exact = list(User.objects.filter(email__iexact=text).values_list("pk", flat=True)[:1])
    if exact:
        return exact
    condition = Q()
    for word in text.split():
        matches = Q(email__icontains=word)
        for field in _name_fields():
            matches |= Q(**{f"{field}__icontains": word})
        condition &= matches
    return list(
        User.objects.filter(condition)
        .order_by("pk")
        .values_list("pk", flat=True)[: PEOPLE_MATCH_LIMIT + 1]
    )


def people_labels(ids: Iterable[int]) -> dict[int, str]:
    """Each person's name and email, for the rows of one page (one query)."""
    wanted = set(ids)
    if not wanted:
        return {}
    fields = _name_fields()[:1]
    labels: dict[int, str] = {}
    for pk, email, *name in (
        get_user_model().objects.filter(pk__in=wanted).values_list("pk", "email", *fields)
    ):
        labels[pk] = f"{name[0]} ({email})" if name and name[0] else email
    return labels


def latest_event(action: str) -> AuditEvent | None:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()
