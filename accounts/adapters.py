"""allauth changed only here: no open sign-up, and an optional allowed company domain."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from accounts import roles


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # People come from HR's directory; self sign-up only where a company domain is allowed.
        return bool(settings.PORTAL_SIGNUP_EMAIL_DOMAIN)

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email).lower()
        domain = settings.PORTAL_SIGNUP_EMAIL_DOMAIN
        if domain and not email.endswith("@" + domain):
            from django import forms

            raise forms.ValidationError(f"Only @{domain} addresses can sign up.")
        return email

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return roles.home_url_for(request.user)
