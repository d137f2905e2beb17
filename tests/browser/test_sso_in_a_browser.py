"""Sign-in through the identity providers in a real browser: what `requests` cannot see. The
sign-in buttons post to the portal, which redirects to the provider, and Chromium holds that
redirect to the Content-Security-Policy's form-action; then the SAML IdP's page posts the
assertion back across origins."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import User
from tests.oidc_provider import app_settings
from tests.oidc_provider import next_login as oidc_next_login
from tests.saml_idp import configure_portal
from tests.saml_idp import next_login as saml_next_login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(settings: Any, live_server: Any, oidc_idp: str, saml_idp: str) -> str:
    """The portal offering both: "Acme SSO" (OpenID Connect) and "Acme SAML"."""
    apps = [app_settings(oidc_idp)]
    settings.SSO_OIDC_APPS = apps
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": apps}
    }
    configure_portal(settings, saml_idp, live_server.url, email_verified=True)
    return str(live_server.url)


def _browser_page(chromium: Any, width: int) -> tuple[Any, list[str]]:
    page = chromium.new_context(viewport={"width": width, "height": 900}).new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security" in message.text else 0,
    )
    return page, refused


def _sign_out(page: Any) -> None:
    """Sign out as a person does; on a phone the button sits in the folded menu."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.get_by_role("button", name="Sign out").click()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_person_signs_in_with_saml_in_a_browser_and_out_again(
    chromium: Any, portal: str, saml_idp: str, width: int
) -> None:
    page, refused = _browser_page(chromium, width)
    email = f"robin.{width}@example.com"
    saml_next_login(saml_idp, email=email)
    page.goto(f"{portal}{reverse('account_login')}")
    page.get_by_role("button", name="Sign in with Acme SAML").click()
    page.wait_for_url(f"{portal}{reverse('home')}")
    assert not refused, refused
    assert page.get_by_role("heading", name=re.compile("^Hello, ")).is_visible()
    assert User.objects.filter(email=email).exists()
    _sign_out(page)
    page.wait_for_url(re.compile(".*/accounts/login/$"))
    assert page.get_by_text("You may still be signed in at Acme SAML").is_visible()
    page.context.close()


def test_a_person_signs_in_with_openid_connect_in_a_browser_and_out_of_the_provider_too(
    chromium: Any, portal: str, oidc_idp: str
) -> None:
    page, refused = _browser_page(chromium, 390)
    oidc_next_login(
        oidc_idp,
        sub="sub-olive",
        email="olive@example.com",
        email_verified=True,
        name="Olive Oidc",
    )
    page.goto(f"{portal}{reverse('account_login')}")
    page.get_by_role("button", name="Sign in with Acme SSO").click()
    page.wait_for_url(f"{portal}{reverse('home')}")
    assert not refused, refused
    _sign_out(page)
    page.wait_for_url(re.compile(".*/accounts/login/$"))
    page.get_by_role("button", name="Sign out of Acme SSO too").click()
    # The provider's own end-session page (which asks before it signs out).
    page.wait_for_url(re.compile(f"^{re.escape(oidc_idp)}/session/end.*"))
    assert not refused, refused
    page.context.close()
