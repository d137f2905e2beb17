"""Sign-in through a real SAML 2.0 identity provider (samlify on loopback, tests/saml): the
SP-initiated flow (AuthnRequest, signed assertion, ACS), driven with `requests` against the
live portal, with the same account rules as OpenID Connect."""

from __future__ import annotations

import base64
import html
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.urls import reverse

from accounts import roles
from accounts.models import User
from accounts.people_import import people_import
from audit.models import AuditEvent
from portal.settings import saml_app
from tests.factories import TotpAuthenticatorFactory, UserFactory
from tests.saml_idp import MFA_CONTEXT, next_login, running_idp

pytestmark = pytest.mark.django_db(transaction=True)

SLUG = "saml"


@pytest.fixture(scope="session")
def saml_idp(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_idp(
        sp_metadata_url=f"{live_server.url}/accounts/saml/{SLUG}/metadata/",
        keys_dir=tmp_path_factory.mktemp("saml-keys"),
    ) as base:
        yield base


def _configure(settings: Any, idp: str, portal: str, *, email_verified: bool) -> None:
    app = saml_app(
        SLUG,
        f"{idp}/metadata",
        f"{idp}/metadata",
        "Acme SAML",
        base_url=portal,
        email_verified=email_verified,
    )
    settings.SSO_SAML_APPS = [app]
    settings.SSO_OIDC_APPS = []
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {"APPS": []},
        "saml": {"provider_class": "accounts.adapters.PortalSAMLProvider", "APPS": [app]},
    }
    settings.PORTAL_BASE_URL = portal


@pytest.fixture
def saml(settings: Any, saml_idp: str, live_server: Any) -> str:
    """The portal with the IdP, whose emails are its managed directory's; the portal's URL."""
    _configure(settings, saml_idp, live_server.url, email_verified=True)
    return str(live_server.url)


def _form_field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} in the IdP's answer: {page[:300]}"
    return html.unescape(found[1])


def at_the_acs(
    portal: str, idp: str, session: requests.Session | None = None, **who: Any
) -> tuple[requests.Session, str, dict[str, str]]:
    """Start the sign-in at the portal and let the IdP answer: the browser's session, the
    ACS URL and the form the IdP's page would post there (SAMLResponse, RelayState)."""
    next_login(idp, **who)
    session = session or requests.Session()
    session.get(f"{portal}{reverse('account_login')}", timeout=10)
    page = session.post(
        f"{portal}{reverse('saml_login', args=[SLUG])}",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=20,
    )
    assert page.url.startswith(f"{idp}/sso?SAMLRequest="), page.text[:500]
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action, page.text[:500]
    form = {
        "SAMLResponse": _form_field(page.text, "SAMLResponse"),
        "RelayState": _form_field(page.text, "RelayState"),
    }
    return session, html.unescape(action[1]), form


def sign_in_with_saml(
    portal: str,
    idp: str,
    session: requests.Session | None = None,
    tamper: Callable[[str], str] | None = None,
    **who: Any,
) -> requests.Response:
    session, acs, form = at_the_acs(portal, idp, session, **who)
    if tamper is not None:
        xml = base64.b64decode(form["SAMLResponse"]).decode()
        form["SAMLResponse"] = base64.b64encode(tamper(xml).encode()).decode()
    return session.post(acs, data=form, timeout=20)


def test_the_sign_in_page_offers_the_saml_identity_provider(saml: str) -> None:
    page = requests.get(f"{saml}{reverse('account_login')}", timeout=10).text
    assert "Sign in with Acme SAML" in page
    assert f'action="{reverse("saml_login", args=[SLUG])}"' in page


def test_a_new_person_is_created_just_in_time_as_an_employee_only(saml: str, saml_idp: str) -> None:
    response = sign_in_with_saml(saml, saml_idp, email="robin.new@example.com")
    assert response.url == f"{saml}{reverse('my_access')}", response.text[:800]
    person = User.objects.get(email="robin.new@example.com")
    assert person.full_name == "Robin Saml"
    assert [group.name for group in person.groups.all()] == [roles.EMPLOYEES]
    assert not person.has_usable_password()
    assert SocialAccount.objects.get(user=person).provider == SLUG
    created = AuditEvent.objects.get(action="person.created")
    assert created.actor_label == "sso:saml" and created.data["via"] == "sso"
