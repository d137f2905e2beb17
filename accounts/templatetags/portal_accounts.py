from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def signup_open(context: dict[str, Any]) -> bool:
    """Whether to offer self sign-up: only when the adapter allows it (a company domain)."""
    request = context.get("request")
    return request is not None and get_adapter(request).is_open_for_signup(request)


@register.simple_tag
def sso_providers() -> list[dict[str, Any]]:
    """The identity providers to offer on the sign-in page, in their configured order."""
    from accounts import sso

    return sso.providers()


@register.simple_tag
def sso_only() -> bool:
    from django.conf import settings

    return bool(settings.SSO_ONLY)


@register.simple_tag(takes_context=True)
def sso_signed_out_of(context: dict[str, Any]) -> dict[str, Any] | None:
    """The provider this browser's last portal session signed in with, once signed out."""
    from accounts import sso

    request = context.get("request")
    if request is None or request.user.is_authenticated:
        return None
    value = request.session.get(sso.SIGNED_OUT_OF_SESSION_KEY)
    return value if isinstance(value, dict) else None
