"""Readable labels for action names ("iam.user.created" → family "IAM", "user created").

The names themselves stay what the code writes (one per event, see DESIGN.md); the trail's
filter lists those present, grouped by family, each with its label and its name."""

from __future__ import annotations

from itertools import groupby

# Families whose plain capitalisation would read wrong.
_FAMILIES = {
    "auth": "Sign-in",
    "iam": "IAM (AWS)",
    "mfa": "MFA",
    "scim": "SCIM",
    "request": "Access requests",
    "credential": "Credential links",
    "person": "People",
    "people": "People import",
    "grant": "Access over time",
    "review": "Access reviews",
    "guardrail": "Guardrails",
    "key_rotation": "Key rotation",
    "catalogue": "Catalogue",
    "offboarding": "Offboarding",
}


def action_family(name: str) -> str:
    return name.partition(".")[0]


def family_label(family: str) -> str:
    return _FAMILIES.get(family, family.replace("_", " ").capitalize())


def action_label(name: str) -> str:
    """What happened, in words: "iam.access_key.deleted" → "access key deleted"."""
    rest = name.partition(".")[2] or name
    return rest.replace(".", " ").replace("_", " ")


def action_choices(names: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a <select>: per family, "All … events" ("family.*") then each
    action by its label and name."""
    grouped: list[tuple[str, list[tuple[str, str]]]] = []
    for family, members in groupby(sorted(names), key=action_family):
        label = family_label(family)
        options = [(f"{family}.*", f"All {label} events")]
        options += [(name, f"{action_label(name)} ({name})") for name in members]
        grouped.append((label, options))
    return grouped
