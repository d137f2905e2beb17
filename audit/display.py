"""How the trail's rows are shown: each target linked to the page about it that the viewer
may open, the person it was done to named, and long details folded away.

The trail imports nothing of ours, so pages are named by URL name and rights by permission
name; a page that is not there (NoReverseMatch) simply gives no link."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import NoReverseMatch, reverse

from audit.actions import action_label
from audit.models import AuditEvent
from audit.selectors import people_labels

# Details longer than this, written out inline, fold into a <details>.
INLINE_DETAILS_LIMIT = 100

MANAGE_PEOPLE = "accounts.manage_people"
MANAGE_CATALOGUE = "provisioning.manage_catalogue"
OPERATE_PROVISIONING = "provisioning.operate_provisioning"

# Target kind -> (URL name, permission the viewer needs, or None: every audit viewer may).
# Offboarding reports and access reviews are open to auditors (they are the evidence).
_PAGES: dict[str, tuple[str, str | None]] = {
    "person": ("person_detail", MANAGE_PEOPLE),
    "offboarding": ("offboarding_detail", None),
    "access_review": ("access_review_detail", None),
    "role_group": ("catalogue_edit", MANAGE_CATALOGUE),
    "drift_finding": ("guardrails_drift_finding", OPERATE_PROVISIONING),
}
# Pages without an id of their own.
_SINGLETONS: dict[str, tuple[str, str | None]] = {
    "compliance_snapshot": ("guardrails_compliance", OPERATE_PROVISIONING),
    "catalogue": ("catalogue", MANAGE_CATALOGUE),
}
# Targets that belong to a person, shown to HR on that person's access panel.
_PERSONAL = {"access_request", "iam_account", "iam_user", "grant", "key_rotation", "review_item"}


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    action_label: str
    target: Link | None
    # The target's own history in the trail, when the target has no page for this viewer.
    target_history: bool
    subject: Link | None
    details_inline: str
    details_json: str
    details_summary: str


def _reverse(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _trail(base: str, **query: Any) -> str:
    return f"{base}?{urlencode(query)}"


def _target_link(
    event: AuditEvent, may: Callable[[str | None], bool], trail: str
) -> tuple[Link | None, bool]:
    if not event.target:
        return None, False
    kind, _, key = event.target.partition(":")
    url = None
    if kind in _PAGES and key.isdigit():
        name, permission = _PAGES[kind]
        url = _reverse(name, int(key)) if may(permission) else None
    elif kind in _SINGLETONS and may(_SINGLETONS[kind][1]):
        url = _reverse(_SINGLETONS[kind][0])
    elif kind in _PERSONAL and event.subject_id is not None and may(MANAGE_PEOPLE):
        url = _reverse("person_access", event.subject_id)
    if url:
        return Link(event.target, url), False
    return Link(event.target, _trail(trail, target=event.target)), True


def _inline(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, cls=DjangoJSONEncoder)
    return str(value)


def _details(data: dict[str, Any]) -> tuple[str, str, str]:
    """(inline text, or "" when folded; the JSON when folded; the fold's summary)."""
    if not data:
        return "", "", ""
    inline = ", ".join(f"{key}={_inline(value)}" for key, value in data.items())
    if len(inline) <= INLINE_DETAILS_LIMIT:
        return inline, "", ""
    keys = list(data)
    summary = f"{len(keys)} details: {', '.join(keys[:4])}{', …' if len(keys) > 4 else ''}"
    pretty = json.dumps(data, cls=DjangoJSONEncoder, indent=2, sort_keys=True)
    return "", pretty, summary


def audit_rows(events: Iterable[AuditEvent], *, has_perm: Callable[[str], bool]) -> list[AuditRow]:
    """One page's rows, in one query more (the names of the people they concern)."""
    events = list(events)
    labels = people_labels(event.subject_id for event in events if event.subject_id)
    granted: dict[str, bool] = {}
    trail = reverse("audit_log")  # once, not twice a row

    def may(permission: str | None) -> bool:
        if permission is None:
            return True
        if permission not in granted:
            granted[permission] = has_perm(permission)
        return granted[permission]

    rows = []
    for event in events:
        target, history = _target_link(event, may, trail)
        subject = None
        if event.subject_id is not None:
            subject = Link(
                labels.get(event.subject_id, f"person {event.subject_id}"),
                _trail(trail, person=event.subject_id),
            )
        inline, pretty, summary = _details(event.data)
        rows.append(
            AuditRow(
                event=event,
                action_label=action_label(event.action),
                target=target,
                target_history=history,
                subject=subject,
                details_inline=inline,
                details_json=pretty,
                details_summary=summary,
            )
        )
    return rows
