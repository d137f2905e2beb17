"""Writing and verifying the MAC-chained audit trail (see `audit/chain.py`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
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
# The chain format new rows are written in (see `AuditEvent.chain_format`).
CHAIN_FORMAT = 2
# Every writer takes this transaction-scoped lock before reading the chain's head, so two
# concurrent writers can never chain onto the same previous row.
_CHAIN_LOCK_KEY = 7_142_001

# Keys whose values must never be written to the trail, whoever passes them.
_SECRET_KEYS = {"password", "secret", "secret_access_key", "token", "ciphertext"}


def canonical_fields(event: AuditEvent) -> bytes:
    """What the row's MAC covers, by its chain format: a row cannot be moved to the other
    format without breaking its MAC, so the format needs no MAC of its own."""
    fields = {
        "created_at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target": event.target,
        "data": event.data,
        "ip": event.ip,
        "correlation_id": event.correlation_id,
        "prev_hash": event.prev_hash,
    }
    if event.chain_format >= 2:
        fields["subject_id"] = event.subject_id
    return canonical(fields)


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


def audit_record(
    *,
    action: str,
    actor: Actor = None,
    target: str = "",
    subject: Subject = None,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    correlation_id: str = "",
) -> AuditEvent:
    """Append one event, chained to the previous one, in the caller's transaction. `subject`
    is the person it was done to (the requester, the IAM user's owner, the leaver): the
    person filter of the trail finds the event under their name."""
    actor_id, actor_label = _actor_fields(actor)
    data = _clean(data)
    # No savepoint: the row belongs to the caller's transaction and fails with it, and the
    # two statements a savepoint costs are a fifth of every audited step's round trips.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        head = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            created_at=timezone.now(),
            actor_id=actor_id,
            actor_label=actor_label[:254],
            action=action,
            target=target[:200],
            subject_id=_subject_id(subject, target),
            data=data,
            ip=ip or None,
            correlation_id=correlation_id[:64],
            prev_hash=head or GENESIS_HASH,
            key_version=newest_key_version(),
            chain_format=CHAIN_FORMAT,
        )
        event.hash = compute_hash(event)
        event.save()
    return event


def _intact(event: AuditEvent, previous: str) -> bool:
    try:
        expected = compute_hash(event)
    except KeyError:
        # Its key is not listed: nothing can vouch for the row.
        return False
    return event.prev_hash == previous and expected == event.hash


def audit_verify(events: Iterator[AuditEvent] | None = None) -> AuditEvent | None:
    """Recompute the chain in order; return the first broken row, or None when intact.
    Streams the table, so memory stays flat however long the trail."""
    previous = GENESIS_HASH
    rows = events if events is not None else AuditEvent.objects.order_by("id").iterator(2000)
    for event in rows:
        if not _intact(event, previous):
            return event
        previous = event.hash
    return None
