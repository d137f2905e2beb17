"""Template helpers for `partials/field.html`."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def says_optional(field: Any) -> bool:
    """Whether the label says "(optional)": a field that is not required, on a form that asks
    for it with `show_optional = True`. A filter, not a template variable the includer may
    leave undefined: an undefined variable makes Django log the whole context at DEBUG, and
    some contexts hold secrets (the MFA page's seed)."""
    return bool(getattr(field.form, "show_optional", False)) and not field.field.required
