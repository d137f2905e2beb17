from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts import sso


class ContentSecurityPolicyMiddleware:
    """Adds the portal's CSP: everything is served from our own origin, no inline script;
    forms go to the portal, and on from it to the identity providers only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        origins = sso.form_action_origins()
        if origins:
            policy = policy.replace("form-action 'self'", f"form-action 'self' {' '.join(origins)}")
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
