"""allauth changed only here: no open sign-up, an optional allowed company domain, sign-in
landing pages by role, and a fresh sign-in counting as re-authentication for MFA set-up."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.internal import ratelimit  # what allauth's own adapter consumes with
from django import forms
from django.conf import settings
from django.http import HttpRequest

from accounts import roles
from accounts.models import User
from accounts.selectors import email_domain_problem
from accounts.services import person_signed_up
from common.http import client_ip

# When this session's sign-in through allauth (password, then any MFA step) completed.
SIGNED_IN_AT_SESSION_KEY = "portal.signed_in_at"
_MFA_SET_UP_PAGES = {
    "mfa_activate_totp",
    "mfa_view_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_generate_recovery_codes",
}


def _current_url_name() -> str:
    request = context.request
    match = getattr(request, "resolver_match", None)
    return (match.url_name or "") if match else ""


PORTAL_NAME = "IAM Access Portal"


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # People come from HR's directory; self sign-up only where it is turned on.
        return settings.PORTAL_SELF_SIGNUP

    def clean_email(self, email: str) -> str:
        # allauth calls this for sign-up and password reset alike. The domain rule is checked
        # at sign-up (imports and HR's edits check it in their services); a person already in
        # the directory must still be able to reset their password.
        email = super().clean_email(email).lower()
        if _current_url_name() == "account_signup":
            problem = email_domain_problem(email)
            if problem:
                raise forms.ValidationError(problem)
        return email

    def save_user(self, request: HttpRequest, user: User, form: Any, commit: bool = True) -> User:
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            person_signed_up(person=user, ip=client_ip(request))
        return user

    def login(self, request: HttpRequest, user: User) -> None:
        super().login(request, user)
        request.session[SIGNED_IN_AT_SESSION_KEY] = time.time()

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        # Someone who has just typed their password (often sent straight to MFA set-up by
        # PrivilegedMFAMiddleware) is not asked for it again to set MFA up and see their
        # recovery codes: that fresh sign-in is the re-authentication. Turning MFA off asks.
        request = context.request
        if request is not None and _current_url_name() in _MFA_SET_UP_PAGES:
            signed_in_at = request.session.get(SIGNED_IN_AT_SESSION_KEY, 0)
            if time.time() - signed_in_at < account_settings.REAUTHENTICATION_TIMEOUT:
                return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def format_email_subject(self, subject: str) -> str:
        # allauth would name the site after the request's host ("[127.0.0.1:8000] ...").
        return f"[{PORTAL_NAME}] {subject}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        site = SimpleNamespace(name=PORTAL_NAME, domain=urlparse(settings.PORTAL_BASE_URL).netloc)
        super().send_mail(template_prefix, email, {"current_site": site, **context})

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return roles.home_url_for(request.user)

    # Failed sign-ins are limited per account *and address* (ACCOUNT_RATE_LIMITS'
    # "login_failed"), so someone guessing from one place cannot lock the account for its
    # owner everywhere else; the account alone locks only at the much higher
    # "login_failed_account", against guessing spread over many addresses.

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        account_key = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account_key}:{client_ip(request) or '-'}"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        super().pre_authenticate(request, **credentials)
        account_key = super()._get_login_attempts_cache_key(request, **credentials)
        self._login_failed_account_usage = ratelimit.consume(
            request, app="allauth.account", action="login_failed_account", key=account_key
        )
        if not self._login_failed_account_usage:
            super()._rollback_login_failed_rl_usage()
            raise self.validation_error("too_many_login_attempts")

    def _rollback_login_failed_rl_usage(self) -> None:
        super()._rollback_login_failed_rl_usage()
        usage = getattr(self, "_login_failed_account_usage", None)
        if usage:
            usage.rollback()
