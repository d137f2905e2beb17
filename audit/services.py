"""Writing and verifying the MAC-chained audit trail (see `audit/chain.py`)."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, transaction
from django.db.models import Max, Min
from django.utils import timezone

from audit.chain import GENESIS_HASH, canonical, mac, newest_key_version
from audit.models import AuditEvent


class Person(Protocol):
    """Who acted, as far as the trail needs to know: their id and email (the trail imports
    nothing of ours, so not the User model itself)."""

    pk: Any
    email: str


# A person, a named system actor ("scim:okta"), or None for the portal itself.
Actor = Person | str | None
# The person an event was done to: the person, their id, or None (nobody, or not known).
Subject = Person | int | None
# The chain format new rows are written in (see `AuditEvent.chain_format`): format 2 adds the
# subject to what the MAC covers.
CHAIN_FORMAT = 2
# Every writer takes this transaction-scoped lock before reading the chain's head, so two
# concurrent writers can never chain onto the same previous row.
_CHAIN_LOCK_KEY = 7_142_001

# Keys whose values must never be written to the trail, whoever passes them.
_SECRET_KEYS = {"password", "secret", "secret_access_key", "token", "ciphertext"}


# What the MAC covers, in the order `_canonical` takes it.
_MACED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "target",
    "data",
    "ip",
    "correlation_id",
    "prev_hash",
)


def _canonical(values: tuple[Any, ...], chain_format: int, subject_id: int | None) -> bytes:
    """What a row's MAC covers, by its chain format: a row cannot be moved to the other format
    without breaking its MAC, so the format needs no MAC of its own."""
    fields = dict(zip(_MACED_FIELDS, values, strict=True))
    fields["created_at"] = fields["created_at"].isoformat()
    if chain_format >= 2:
        fields["subject_id"] = subject_id
    return canonical(fields)


def canonical_fields(event: AuditEvent) -> bytes:
    return _canonical(
        tuple(getattr(event, name) for name in _MACED_FIELDS),
        event.chain_format,
        event.subject_id,
    )


def compute_hash(event: AuditEvent) -> str:
    """The row's MAC under the key its `key_version` names."""
    return mac(canonical_fields(event), version=event.key_version)


def _clean(data: dict[str, Any] | None) -> dict[str, Any]:
    if not data:
        return {}
    for key in data:
        if key.lower() in _SECRET_KEYS:
            raise ValueError(f"audit data must not carry secrets (key {key!r})")
    # Round-trip so what is hashed is exactly what the JSON column will give back.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _actor_fields(actor: Actor) -> tuple[int | None, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor
    return actor.pk, actor.email


def _subject_id(subject: Subject, target: str) -> int | None:
    """The subject's id; a person's own target names them, so those need not say so."""
    if subject is None:
        kind, _, key = target.partition(":")
        return int(key) if kind == "person" and key.isdigit() else None
    return subject if isinstance(subject, int) else subject.pk


_pending = threading.local()


def audit_record(
    *,
    action: str,
    actor: Actor = None,
    target: str = "",
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    correlation_id: str = "",
    subject: Subject = None,
) -> AuditEvent:
    """Append one event, chained to the previous one, in the caller's transaction (inside
    `audit_batch()`, once the batch ends). `subject` is the person it was done to (the
    requester, the IAM user's owner, the leaver): the person filter of the trail finds the
    event under their name."""
    actor_id, actor_label = _actor_fields(actor)
    event = AuditEvent(
        actor_id=actor_id,
        actor_label=actor_label[:254],
        action=action,
        target=target[:200],
        subject_id=_subject_id(subject, target),
        data=_clean(data),
        ip=ip or None,
        correlation_id=correlation_id[:64],
        chain_format=CHAIN_FORMAT,
    )
    batch = getattr(_pending, "events", None)
    if batch is not None:
        batch.append(event)
    else:
        _append([event])
    return event


@contextmanager
def audit_batch() -> Iterator[None]:
    """The events recorded inside are appended together when the block ends without an error,
    in the caller's transaction: one lock and one read of the head for all of them, one
    INSERT, and the chain's lock held only from there to the commit."""
    if getattr(_pending, "events", None) is not None:
        yield  # already batching: the outer batch writes them
        return
    _pending.events = []
    try:
        yield
        events = _pending.events
    finally:
        _pending.events = None
    if events:
        _append(events)


def _append(events: list[AuditEvent]) -> None:
    # No savepoint: the rows belong to the caller's transaction and fail with it, and the
    # two statements a savepoint costs are a fifth of every audited step's round trips.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        head = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        previous = head or GENESIS_HASH
        version = newest_key_version()
        for event in events:
            event.created_at = timezone.now()
            event.prev_hash = previous
            event.key_version = version
            event.hash = previous = compute_hash(event)
        if len(events) == 1:
            events[0].save()
        else:
            AuditEvent.objects.bulk_create(events)


def _intact(event: AuditEvent, previous: str) -> bool:
    try:
        expected = compute_hash(event)
    except KeyError:
        # Its key is not listed: nothing can vouch for the row.
        return False
    return event.prev_hash == previous and expected == event.hash


def audit_verify(
    events: Iterator[AuditEvent] | None = None, *, workers: int = 1
) -> AuditEvent | None:
    """Recompute the chain in order; return the first broken row, or None when intact.
    Streams the table through a server-side cursor as plain tuples (no model per row), so
    memory stays flat however long the trail. With `workers` > 1 the id range is split
    among that many processes: each row is checked against its own fields and the stored
    hash of the row before it, so ranges verify apart and the first broken row is the
    lowest any range reports."""
    previous = GENESIS_HASH
    if events is not None:
        for event in events:
            if not _intact(event, previous):
                return event
            previous = event.hash
        return None
    bounds = AuditEvent.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return None
    # Inside a transaction other processes would not see what it sees: one process then.
    parts = 1 if connection.in_atomic_block else max(1, workers)
    ranges = _split(bounds["low"], bounds["high"], parts)
    if len(ranges) == 1:
        broken = _first_broken_between(ranges[0])
    else:
        connections.close_all()  # each process opens its own
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(len(ranges), mp_context=context) as pool:
            found = [pk for pk in pool.map(_first_broken_between, ranges) if pk]
        broken = min(found) if found else None
    return AuditEvent.objects.get(pk=broken) if broken is not None else None


def _split(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    step = -(-(high - low + 1) // parts)
    return [(start, min(start + step - 1, high)) for start in range(low, high + 1, step)]


def _first_broken_between(ids: tuple[int, int]) -> int | None:
    """The first row with `low` <= id <= `high` whose MAC or link is wrong, or None."""
    low, high = ids
    before = AuditEvent.objects.filter(id__lt=low).order_by("-id").values_list("hash", flat=True)
    previous = before.first() or GENESIS_HASH
    rows = (
        AuditEvent.objects.filter(id__gte=low, id__lte=high)
        .order_by("id")
        .values_list("pk", *_MACED_FIELDS, "hash", "key_version", "chain_format", "subject_id")
        .iterator(chunk_size=5000)
    )
    for pk, *maced, row_hash, key_version, chain_format, subject_id in rows:
        try:
            expected = mac(_canonical(tuple(maced), chain_format, subject_id), version=key_version)
        except KeyError:
            expected = None  # its key is not listed: nothing can vouch for the row
        if maced[-1] != previous or expected != row_hash:
            return int(pk)
        previous = row_hash
    return None
