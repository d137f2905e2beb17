"""Small facts about the web request that services record (never the request itself)."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str | None:
    """The address the request came from, as the audit trail records it."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
