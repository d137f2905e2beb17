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


def _canonical(values: tuple[Any, ...]) -> bytes:
    fields = dict(zip(_MACED_FIELDS, values, strict=True))
    fields["created_at"] = fields["created_at"].isoformat()
    return canonical(fields)


def canonical_fields(event: AuditEvent) -> bytes:
    return _canonical(tuple(getattr(event, name) for name in _MACED_FIELDS))


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


def audit_record(
    *,
    action: str,
    actor: Actor = None,
    target: str = "",
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    correlation_id: str = "",
) -> AuditEvent:
    """Append one event, chained to the previous one, in the caller's transaction."""
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
            data=data,
            ip=ip or None,
            correlation_id=correlation_id[:64],
            prev_hash=head or GENESIS_HASH,
            key_version=newest_key_version(),
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
    Streams the table through a server-side cursor as plain tuples (no model per row), so
    memory stays flat however long the trail."""
    previous = GENESIS_HASH
    if events is not None:
        for event in events:
            if not _intact(event, previous):
                return event
            previous = event.hash
        return None
    rows = (
        AuditEvent.objects.order_by("id")
        .values_list("pk", *_MACED_FIELDS, "hash", "key_version")
        .iterator(chunk_size=5000)
    )
    for pk, *maced, row_hash, key_version in rows:
        try:
            expected = mac(_canonical(tuple(maced)), version=key_version)
        except KeyError:
            expected = None  # its key is not listed: nothing can vouch for the row
        if maced[-1] != previous or expected != row_hash:
            return AuditEvent.objects.get(pk=pk)
        previous = row_hash
    return None
