from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.middleware import AuthenticationMiddleware, get_user
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.functional import SimpleLazyObject

from accounts import roles, sso
from accounts.models import User


class RolesAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's, with the signed-in person's roles loaded in one query when `request.user`
    is first used (`roles.load_roles`): every page's navigation asks for all of them."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(  # type: ignore[assignment]  # as Django's own does
            lambda: roles.load_roles(get_user(request))
        )


# Pages a privileged person may reach before setting up MFA: sign-in, MFA set-up, health.
_MFA_EXEMPT_PREFIXES = ("account_", "mfa_")
_MFA_EXEMPT_NAMES = {"healthz", "readyz", "outbox", "outbox_message", "sso_logout"}


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


LAST_SEEN_SESSION_KEY = "portal.last_seen"


class PrivilegedIdleTimeoutMiddleware:
    """Managers, HR, security admins and auditors are signed out after PRIVILEGED_IDLE_MINUTES
    without a request: an unattended privileged session is the one worth stealing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and roles.is_privileged(user):
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_SESSION_KEY)
            idle = settings.PRIVILEGED_IDLE_MINUTES * 60
            if last_seen is not None and now - float(last_seen) > idle:
                logout(request)
                messages.info(
                    request,
                    f"You were signed out after {settings.PRIVILEGED_IDLE_MINUTES} minutes "
                    "without activity. Sign in again to continue.",
                )
                return redirect_to_login(request.get_full_path())
            # Written at most once a minute: a session save is a query on every page.
            if last_seen is None or now - float(last_seen) > 60:
                request.session[LAST_SEEN_SESSION_KEY] = now
        return self.get_response(request)
