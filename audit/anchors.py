"""Anchors: the chain's head, published outside the database, so a deleted tail shows.

Every AUDIT_ANCHOR_SECONDS the beat job publishes one line,

    AUDIT-ANCHOR {"at": "<ISO time>", "head_id": 1234, "head_mac": "<64 hex>", "rows": 1234}

to the `audit.anchor` logger (ship it to a log store the database's owner cannot edit) and,
when AUDIT_ANCHOR_FILE is set, appends it to that file; once a day the latest anchor is also
emailed to the auditors. `manage.py verify_audit --anchors FILE` reads such lines back from
any log export and fails when a row an anchor names is gone or different, or when fewer
rows lead up to it than the anchor counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEvent

PREFIX = "AUDIT-ANCHOR "
logger = logging.getLogger("audit.anchor")


@dataclass(frozen=True)
class Anchor:
    at: str
    head_id: int
    head_mac: str
    rows: int

    def line(self) -> str:
        body = {"at": self.at, "head_id": self.head_id, "head_mac": self.head_mac}
        return PREFIX + json.dumps({**body, "rows": self.rows}, sort_keys=True)


def current_anchor() -> Anchor | None:
    head = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
    if head is None:
        return None
    return Anchor(
        at=timezone.now().isoformat(),
        head_id=head[0],
        head_mac=head[1],
        rows=AuditEvent.objects.filter(id__lte=head[0]).count(),
    )


def anchor_publish() -> Anchor | None:
    """Publish the head now (beat). Returns what was published, None for an empty trail."""
    anchor = current_anchor()
    if anchor is None:
        return None
    logger.info("%s", anchor.line())
    if settings.AUDIT_ANCHOR_FILE:
        with open(settings.AUDIT_ANCHOR_FILE, "a", encoding="utf-8") as sink:
            sink.write(anchor.line() + "\n")
    return anchor


def _auditors() -> list[str]:
    people = get_user_model().objects.filter(
        Q(groups__permissions__codename="view_audit")
        | Q(user_permissions__codename="view_audit")
        | Q(is_superuser=True),
        is_active=True,
    )
    return sorted({person.email for person in people.distinct() if person.email})


def anchor_email() -> Anchor | None:
    """Once a day (beat): the current anchor, by email to everyone who audits."""
    anchor = anchor_publish()
    recipients = _auditors()
    if anchor is None or not recipients:
        return anchor
    send_mail(
        "[IAM Access Portal] Audit trail anchor",
        "Keep this line: `manage.py verify_audit --anchors FILE` checks the trail against it.\n\n"
        f"{anchor.line()}\n",
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )
    return anchor


def parse_anchors(lines: Iterable[str]) -> Iterator[Anchor]:
    """Every anchor line in a log export (other lines are skipped)."""
    for line in lines:
        _, found, body = line.partition(PREFIX)
        if not found:
            continue
        fields: dict[str, Any] = json.loads(body.strip())
        yield Anchor(
            at=str(fields["at"]),
            head_id=int(fields["head_id"]),
            head_mac=str(fields["head_mac"]),
            rows=int(fields["rows"]),
        )


def anchor_problem(anchor: Anchor) -> str | None:
    """Why the trail does not match this anchor, or None."""
    mac = AuditEvent.objects.filter(id=anchor.head_id).values_list("hash", flat=True).first()
    if mac is None:
        return (
            f"row {anchor.head_id}, the head anchored at {anchor.at}, is missing: "
            "the trail was cut back"
        )
    if mac != anchor.head_mac:
        return f"row {anchor.head_id} differs from what was anchored at {anchor.at}"
    rows = AuditEvent.objects.filter(id__lte=anchor.head_id).count()
    if rows != anchor.rows:
        return (
            f"{anchor.rows} rows led up to row {anchor.head_id} at {anchor.at}; "
            f"{rows} do now: rows were removed"
        )
    return None
