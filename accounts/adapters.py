"""allauth changed only here: no open sign-up, an optional allowed company domain."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from django import forms
from django.conf import settings
from django.http import HttpRequest

from accounts import roles
from accounts.services import person_signed_up
from accounts.signals import client_ip


def _current_url_name() -> str:
    request = context.request
    match = getattr(request, "resolver_match", None)
    return (match.url_name or "") if match else ""


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # People come from HR's directory; self sign-up only where a company domain is allowed.
        return bool(settings.PORTAL_SIGNUP_EMAIL_DOMAIN)

    def clean_email(self, email: str) -> str:
        # allauth calls this for sign-up and password reset alike. The domain rule is for
        # sign-up only: HR may import anyone, and they must still be able to reset a password.
        email = super().clean_email(email).lower()
        domain = settings.PORTAL_SIGNUP_EMAIL_DOMAIN
        if _current_url_name() == "account_signup" and domain and not email.endswith("@" + domain):
            raise forms.ValidationError(f"Only @{domain} addresses can sign up.")
        return email

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            person_signed_up(person=user, ip=client_ip(request))
        return user

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return roles.home_url_for(request.user)
