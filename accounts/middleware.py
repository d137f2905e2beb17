from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts import roles, sso
from accounts.models import User

# Pages a privileged person may reach before setting up MFA: sign-in, MFA set-up, health.
_MFA_EXEMPT_PREFIXES = ("account_", "mfa_")
_MFA_EXEMPT_NAMES = {"healthz", "outbox", "outbox_message", "sso_logout"}


def has_mfa(user: User) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class PrivilegedMFAMiddleware:
    """With REQUIRE_MFA_FOR_PRIVILEGED, managers, HR and security admins set up MFA first,
    unless this session's identity provider sign-in says MFA was used (`amr`, `acr`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not settings.REQUIRE_MFA_FOR_PRIVILEGED or not request.user.is_authenticated:
            return None
        name = request.resolver_match.url_name if request.resolver_match else ""
        name = name or ""
        if name.startswith(_MFA_EXEMPT_PREFIXES) or name in _MFA_EXEMPT_NAMES:
            return None
        if request.path.startswith(settings.STATIC_URL):
            return None
        if sso.session_signed_in_with_idp_mfa(request.session):
            return None
        if roles.is_privileged(request.user) and not has_mfa(request.user):
            return redirect("mfa_activate_totp")
        return None
