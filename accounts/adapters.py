"""allauth changed only here: no open sign-up, an optional allowed company domain, sign-in
landing pages by role, a fresh sign-in counting as re-authentication for MFA set-up; and
sign-in through the identity provider (OpenID Connect, or SAML): a nonce on top of allauth's
state and PKCE, the SAML assertion's AuthnContext kept, verified emails of the organisation
only, linked by email to the person and never another, SSO_ONLY with its break-glass list,
and the IdP's MFA (amr/acr, AuthnContext) counting for privileged roles."""

from __future__ import annotations

import secrets
import time
from types import SimpleNamespace
from typing import Any, NoReturn
from urllib.parse import urlparse

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal import ratelimit  # what allauth's own adapter consumes with
from allauth.mfa.stages import AuthenticateStage
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.base.constants import AuthError
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.saml.provider import SAMLProvider
from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render
from django.urls import reverse

from accounts import sso
from accounts.models import User
from accounts.selectors import email_domain_problem
from accounts.services import person_signed_up
from accounts.sso_services import (
    break_glass_signed_in,
    sso_identity_linked,
    sso_person_created,
    sso_sign_in_refused,
)
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

    def authenticate(self, request: HttpRequest, **credentials: Any) -> User | None:
        # SSO_ONLY: a password is refused before it is even checked, except for the
        # break-glass list; a correct one from the list is recorded and announced.
        email = str(credentials.get("email") or "")
        problem = sso.password_sign_in_problem(email)
        if problem:
            raise forms.ValidationError(problem)
        user: User | None = super().authenticate(request, **credentials)
        if user is not None and settings.SSO_ONLY:
            problem = sso.password_sign_in_problem(email, user)
            if problem:
                raise forms.ValidationError(problem)
            break_glass_signed_in(person=user, ip=client_ip(request))
        return user

    def login(self, request: HttpRequest, user: User) -> None:
        confirmed = sso.confirmed_sso(request.session)
        super().login(request, user)
        request.session.pop(sso.SSO_PENDING_SESSION_KEY, None)
        if confirmed is not None:
            request.session[sso.SSO_SESSION_KEY] = confirmed
        request.session[SIGNED_IN_AT_SESSION_KEY] = time.time()

    def logout(self, request: HttpRequest) -> None:
        signed_in_with = (request.session.get(sso.SSO_SESSION_KEY) or {}).get("provider")
        super().logout(request)
        provider = sso.provider(signed_in_with) if signed_in_with else None
        if provider is not None:
            # Offered on the sign-in page: the IdP's own session may still be open.
            request.session[sso.SIGNED_OUT_OF_SESSION_KEY] = {
                "id": provider["id"],
                "name": provider["name"],
                "kind": provider["kind"],
            }

    def get_login_stages(self) -> list[str]:
        stages: list[str] = super().get_login_stages()
        mfa_stage = f"{AuthenticateStage.__module__}.{AuthenticateStage.__name__}"
        return [
            f"{__name__}.{PortalMFAStage.__name__}" if stage == mfa_stage else stage
            for stage in stages
        ]

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
        # Everyone lands on their home page: the figures of each of their roles.
        return reverse("home")

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


# --- Sign-in through the identity provider ---------------------------------------------------


class PortalMFAStage(AuthenticateStage):
    """allauth's TOTP step, skipped when the identity provider says this sign-in used MFA."""

    def _should_handle(self, request: HttpRequest) -> bool:
        sociallogin = (self.login.signal_kwargs or {}).get("sociallogin")
        if sociallogin is not None and _attests_mfa(sociallogin):
            return False
        return bool(super()._should_handle(request))


class NonceOpenIDConnectProvider(OpenIDConnectProvider):
    """allauth's OpenID Connect provider, plus a nonce: one per sign-in, kept in allauth's
    state (with PKCE's verifier) and checked against the ID token by the adapter."""

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> Any:
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


class PortalSAMLProvider(SAMLProvider):
    """allauth's SAML provider (its views and python3-saml's checks), which also keeps the
    assertion's AuthnContextClassRef: {"attributes", "authn_contexts"} in extra_data."""

    package = "allauth.socialaccount.providers.saml"

    def extract_extra_data(self, data: Any) -> dict[str, Any]:
        return {
            "attributes": data.get_attributes(),
            "authn_contexts": [str(ref) for ref in data.get_last_authn_contexts()],
        }


def _id_token_claims(sociallogin: Any) -> dict[str, Any]:
    claims = (sociallogin.account.extra_data or {}).get("id_token")
    return claims if isinstance(claims, dict) else {}


def _is_saml(sociallogin: Any) -> bool:
    return isinstance(sociallogin.provider, SAMLProvider)


def _attests_mfa(sociallogin: Any) -> bool:
    """Whether this IdP sign-in used MFA: the ID token's amr/acr, or the SAML AuthnContext."""
    if _is_saml(sociallogin):
        contexts = (sociallogin.account.extra_data or {}).get("authn_contexts")
        return sso.saml_attests_mfa(contexts if isinstance(contexts, list) else [])
    return sso.attests_mfa(_id_token_claims(sociallogin))


def _verified_email(sociallogin: Any) -> str:
    """The verified email the identity provider vouches for, or ""."""
    for address in sociallogin.email_addresses:
        if address.verified and address.email:
            return str(address.email).strip().lower()
    return ""


class PortalSocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_provider(self, request: HttpRequest, provider: Any, client_id: Any = None) -> Any:
        found = super().get_provider(request, provider, client_id=client_id)
        if type(found) is OpenIDConnectProvider:
            return NonceOpenIDConnectProvider(request, app=found.app)
        return found

    def _refuse(self, request: HttpRequest, sociallogin: Any, email: str, reason: str) -> NoReturn:
        provider_id = sociallogin.account.provider
        sso_sign_in_refused(
            provider_id=provider_id, email=email, reason=reason, ip=client_ip(request)
        )
        response = render(
            request,
            "socialaccount/sso_refused.html",
            {"reason": reason, "provider": sso.provider(provider_id)},
            status=403,
        )
        raise ImmediateHttpResponse(response)

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        """A sign-in the protocol refused (a bad signature, a wrong audience, an expired
        assertion, an error from the IdP): recorded before allauth's error page."""
        super().on_authentication_error(request, provider, error, exception, extra_context)
        if error == AuthError.CANCELLED:
            return
        reason = (extra_context or {}).get("saml_last_error_reason") or error or "unknown"
        sso_sign_in_refused(
            provider_id=str(getattr(provider, "sub_id", "") or provider),
            email="",
            reason=f"The sign-in failed: {str(reason)[:300]}",
            ip=client_ip(request),
        )

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        """Steps: for OpenID Connect, check the ID token's nonce (allauth checks state, PKCE,
        issuer, audience and expiry) and issuer; a returning IdP identity signs in as its
        person; a new one needs a verified email of the organisation's domains, and is linked
        to the person with that email (imported people included), never to another, or else
        becomes a new employee (`save_user`)."""
        email = _verified_email(sociallogin)
        provider_id = sociallogin.account.provider
        if (sociallogin.state or {}).get("process") == "connect":
            # Links are made by email at sign-in, to that person only; never by hand.
            self._refuse(request, sociallogin, email, "IdP identities are linked at sign-in.")
        configured = sso.provider(provider_id)
        if configured is None:
            self._refuse(request, sociallogin, email, "This identity provider is not configured.")
        if configured["kind"] == sso.OIDC:
            claims = _id_token_claims(sociallogin)
            expected_nonce = (sociallogin.state or {}).get("nonce")
            if not expected_nonce or claims.get("nonce") != expected_nonce:
                self._refuse(
                    request, sociallogin, email, "The sign-in could not be verified (nonce)."
                )
            if claims.get("iss") != configured["issuer"]:
                self._refuse(request, sociallogin, email, "The sign-in came from another issuer.")
        # SAML: python3-saml (strict) has checked the signature by the metadata's certificate,
        # the issuer, audience, recipient and validity; allauth, that it answers this
        # session's request (InResponseTo), once.
        if not sociallogin.is_existing:
            if not email:
                self._refuse(
                    request,
                    sociallogin,
                    next((str(a.email) for a in sociallogin.email_addresses if a.email), ""),
                    "Your identity provider has not verified your email address.",
                )
            problem = email_domain_problem(email)
            if problem:
                self._refuse(request, sociallogin, email, problem)
            person = User.objects.filter(email__iexact=email).first()
            if person is not None:
                if SocialAccount.objects.filter(user=person, provider=provider_id).exists():
                    self._refuse(
                        request,
                        sociallogin,
                        email,
                        f"{email} is already linked to another {configured['name']} identity: "
                        "ask a security admin.",
                    )
                sociallogin.connect(request, person)
                sso_identity_linked(
                    person=person,
                    provider_id=provider_id,
                    uid=str(sociallogin.account.uid),
                    ip=client_ip(request),
                )
        request.session[sso.SSO_PENDING_SESSION_KEY] = {
            "provider": provider_id,
            "uid": str(sociallogin.account.uid),
            "mfa": _attests_mfa(sociallogin),
        }

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # Only reached by a verified email of the organisation that no person has yet.
        return True

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> Any:
        user = super().populate_user(request, sociallogin, data)
        user.email = _verified_email(sociallogin)
        name = data.get("name") or " ".join(
            part for part in (data.get("first_name"), data.get("last_name")) if part
        )
        user.full_name = str(name or "")[:200]
        return user

    def save_user(self, request: HttpRequest, sociallogin: Any, form: Any = None) -> User:
        user: User = super().save_user(request, sociallogin, form)
        sso_person_created(
            person=user, provider_id=sociallogin.account.provider, ip=client_ip(request)
        )
        return user
