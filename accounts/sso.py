"""Sign-in through the organisation's identity provider (OpenID Connect, SAML): the configured
providers, the claims that count, and the portal's rules for them. Reads only; the writes
(a person created just in time, a link, a break-glass sign-in) are in `sso_services.py`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings

from accounts import roles
from accounts.models import User

# This session signed in through an identity provider: {"provider", "uid", "mfa"}.
SSO_SESSION_KEY = "portal_sso"
# Set in the pre-login step, confirmed by the account adapter's login.
SSO_PENDING_SESSION_KEY = "portal_sso_pending"
# After sign-out: {"id", "name"} of the provider the session had used, to offer its logout.
SIGNED_OUT_OF_SESSION_KEY = "portal_sso_signed_out_of"
DISCOVERY_TIMEOUT_SECONDS = 5
# RFC 8176: "mfa" means more than one factor was used.
MFA_AMR = "mfa"


OIDC = "oidc"
SAML = "saml"


def providers() -> list[dict[str, Any]]:
    """The configured identity providers, OpenID Connect first: {"id", "name", "kind",
    "login_url"}, and for OpenID Connect "issuer" and "client_id"."""
    from django.urls import reverse

    oidc = [
        {
            "id": app["provider_id"],
            "name": app["name"],
            "kind": OIDC,
            "login_url": reverse("openid_connect_login", args=[app["provider_id"]]),
            "issuer": app["settings"]["server_url"],
            "client_id": app["client_id"],
        }
        for app in settings.SSO_OIDC_APPS
    ]
    saml = [
        {
            "id": app["provider_id"],
            "name": app["name"],
            "kind": SAML,
            "login_url": reverse("saml_login", args=[app["client_id"]]),
        }
        for app in settings.SSO_SAML_APPS
    ]
    return oidc + saml


def provider(provider_id: str) -> dict[str, Any] | None:
    return next((p for p in providers() if p["id"] == provider_id), None)


def attests_mfa(claims: dict[str, Any]) -> bool:
    """Whether the ID token says the person used more than one factor: `amr` holds "mfa",
    or `acr` is one of SSO_MFA_ACR_VALUES."""
    amr = claims.get("amr") or []
    if isinstance(amr, str):
        amr = amr.split()
    if MFA_AMR in amr:
        return True
    acr = claims.get("acr")
    return bool(acr) and str(acr) in settings.SSO_MFA_ACR_VALUES


def saml_attests_mfa(authn_contexts: list[str]) -> bool:
    """Whether the assertion's AuthnContextClassRef is one SSO_SAML_MFA_AUTHN_CONTEXTS names."""
    accepted = set(settings.SSO_SAML_MFA_AUTHN_CONTEXTS)
    return any(str(context) in accepted for context in authn_contexts)


def is_break_glass(email: str) -> bool:
    return email.strip().lower() in settings.SSO_BREAK_GLASS_EMAILS


def password_sign_in_problem(email: str, user: User | None = None) -> str | None:
    """Why this password sign-in is refused under SSO_ONLY, or None when it may go on:
    only the break-glass list, and only security admins on it."""
    if not settings.SSO_ONLY:
        return None
    names = " or ".join(p["name"] for p in providers()) or "your identity provider"
    refusal = f"Sign in with {names}: password sign-in is turned off."
    if not is_break_glass(email):
        return refusal
    if user is not None and not roles.is_security_admin(user):
        return refusal
    return None


def session_signed_in_with_idp_mfa(session: Any) -> bool:
    sso = session.get(SSO_SESSION_KEY) or {}
    return bool(sso.get("mfa"))


def confirmed_sso(session: Any) -> dict[str, Any] | None:
    """The pending IdP sign-in, if the session's latest first factor was exactly it (so a
    password sign-in after an abandoned IdP one never inherits its claims)."""
    from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY

    pending = session.get(SSO_PENDING_SESSION_KEY)
    if not pending:
        return None
    methods = session.get(AUTHENTICATION_METHODS_SESSION_KEY) or []
    first_factors = [m for m in methods if m.get("method") in ("password", "socialaccount")]
    latest = first_factors[-1] if first_factors else {}
    if (
        latest.get("method") == "socialaccount"
        and latest.get("provider") == pending.get("provider")
        and latest.get("uid") == pending.get("uid")
    ):
        return dict(pending)
    return None


def end_session_url(provider_id: str, *, post_logout_redirect_uri: str) -> str | None:
    """The provider's RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0), from
    its discovery document, or None when it has none or does not answer. No ID token is
    kept to pass as a hint: `client_id` names the portal instead."""
    config = provider(provider_id)
    if config is None or config["kind"] != OIDC:
        # SAML's single logout needs the IdP session's NameID and index: not offered.
        return None
    try:
        response = requests.get(
            f"{config['issuer']}/.well-known/openid-configuration",
            timeout=DISCOVERY_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        endpoint = response.json().get("end_session_endpoint")
    except (requests.RequestException, ValueError):
        return None
    if not endpoint or not str(endpoint).startswith(("https://", "http://")):
        return None
    query = urlencode(
        {"client_id": config["client_id"], "post_logout_redirect_uri": post_logout_redirect_uri}
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def form_action_origins() -> list[str]:
    """The identity providers' origins, for the Content-Security-Policy's form-action: the
    sign-in buttons (and "Sign out of <name> too") post to the portal, which redirects the
    browser to the provider, and browsers hold those redirects to form-action as well.
    OpenID Connect: the issuer's origin (its authorization and end-session endpoints live
    there). SAML: the metadata's origin, and the single sign-on service's when the metadata
    is a local file (no network call here: this runs on every page)."""
    urls = [str(app["settings"]["server_url"]) for app in settings.SSO_OIDC_APPS]
    for app in settings.SSO_SAML_APPS:
        idp = app["settings"]["idp"]
        urls.append(str(idp["metadata_url"]))
        if str(idp["metadata_url"]).startswith("file://"):
            urls.append(_sso_url_in_metadata_file(str(idp["metadata_url"]), str(idp["entity_id"])))
    origins: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme in ("https", "http") and parts.netloc and origin not in origins:
            origins.append(origin)
    return origins


@lru_cache(maxsize=8)
def _sso_url_in_metadata_file(metadata_url: str, entity_id: str) -> str:
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    try:
        with open(urlsplit(metadata_url).path, encoding="utf-8") as metadata:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata.read(), entity_id=entity_id)
        return str(parsed["idp"]["singleSignOnService"]["url"])
    except (OSError, KeyError, ValueError, TypeError, SyntaxError):
        return ""
