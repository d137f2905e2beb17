"""Sign-in through a real SAML 2.0 identity provider (samlify on loopback, tests/saml): the
SP-initiated flow (AuthnRequest, signed assertion, ACS), driven with `requests` against the
live portal, with the same account rules as OpenID Connect."""

from __future__ import annotations

import base64
import html
import logging
import re
from collections.abc import Callable
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
from tests.factories import TotpAuthenticatorFactory, UserFactory
from tests.saml_idp import MFA_CONTEXT, SLUG, configure_portal, next_login

pytestmark = pytest.mark.django_db(transaction=True)


def _configure(
    settings: Any, idp: str, portal: str, *, email_verified: bool, metadata_url: str = ""
) -> None:
    settings.SSO_OIDC_APPS = []
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": []}}
    configure_portal(
        settings, idp, portal, email_verified=email_verified, metadata_url=metadata_url
    )


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
    assert response.url == f"{saml}{reverse('home')}", response.text[:800]
    person = User.objects.get(email="robin.new@example.com")
    assert person.full_name == "Robin Saml"
    assert [group.name for group in person.groups.all()] == [roles.EMPLOYEES]
    assert not person.has_usable_password()
    assert SocialAccount.objects.get(user=person).provider == SLUG
    created = AuditEvent.objects.get(action="person.created")
    assert created.actor_label == "sso:saml" and created.data["via"] == "sso"


def test_an_imported_person_is_linked_by_email_and_signs_in_as_themselves(
    saml: str, saml_idp: str, hr_person: Any
) -> None:
    people_import(
        actor=hr_person,
        content=b"email,full_name,department,manager_email\nimported@example.com,Ima Ported,Ops,\n",
    )
    person = User.objects.get(email="imported@example.com")
    response = sign_in_with_saml(saml, saml_idp, email="Imported@Example.com")
    assert response.url == f"{saml}{reverse('home')}"
    assert User.objects.filter(email__iexact="imported@example.com").count() == 1
    assert SocialAccount.objects.get(user=person).uid == "Imported@Example.com"
    assert AuditEvent.objects.get(action="auth.sso_linked").actor_id == person.pk
    # The person HR imported keeps their name and their single role.
    person.refresh_from_db()
    assert person.full_name == "Ima Ported"
    assert [group.name for group in person.groups.all()] == [roles.EMPLOYEES]


def test_an_email_already_linked_is_never_linked_to_another_identity(
    saml: str, saml_idp: str
) -> None:
    sign_in_with_saml(saml, saml_idp, email="robin@example.com")
    other = {"urn:oasis:names:tc:SAML:attribute:subject-id": ["someone-else@idp"]}
    response = sign_in_with_saml(saml, saml_idp, email="robin@example.com", attributes=other)
    assert response.status_code == 403
    assert "already linked to another Acme SAML identity" in response.text
    assert SocialAccount.objects.count() == 1


def test_an_email_of_another_domain_is_refused(saml: str, saml_idp: str) -> None:
    response = sign_in_with_saml(saml, saml_idp, email="outsider@elsewhere.org")
    assert response.status_code == 403
    assert "is not an address of the organisation" in response.text
    assert not User.objects.filter(email="outsider@elsewhere.org").exists()
    refused = AuditEvent.objects.get(action="auth.sso_refused")
    assert refused.data["email"] == "outsider@elsewhere.org"
    assert refused.data["provider"] == SLUG


def test_an_email_is_unverified_unless_the_idp_vouches_for_it(
    settings: Any, saml_idp: str, live_server: Any
) -> None:
    _configure(settings, saml_idp, live_server.url, email_verified=False)
    portal = str(live_server.url)
    refused = sign_in_with_saml(portal, saml_idp, email="casey@example.com")
    assert refused.status_code == 403
    assert "has not verified your email address" in refused.text
    assert not User.objects.filter(email="casey@example.com").exists()
    vouched = sign_in_with_saml(
        portal, saml_idp, email="casey@example.com", attributes={"email_verified": ["true"]}
    )
    assert vouched.url == f"{portal}{reverse('home')}"
    assert User.objects.filter(email="casey@example.com").exists()


def _replace_email(xml: str) -> str:
    assert xml.count("robin@example.com") >= 2
    return xml.replace("robin@example.com", "sam.admin@example.com")


def _strip_signatures(xml: str) -> str:
    stripped = re.sub(r"<ds:Signature\b.*?</ds:Signature>", "", xml, flags=re.DOTALL)
    assert stripped != xml, "the IdP's answer was not signed"
    return stripped


@pytest.mark.parametrize(
    ("who", "tamper"),
    [
        ({}, _replace_email),
        ({}, lambda xml: _replace_email(_strip_signatures(xml))),
        ({}, _strip_signatures),
        ({"signer": "rogue"}, None),
    ],
    ids=["tampered-after-signing", "unsigned-and-changed", "unsigned", "signed-by-another-key"],
)
def test_an_assertion_not_signed_by_the_idps_certificate_is_refused(
    saml: str, saml_idp: str, who: dict, tamper: Callable[[str], str] | None
) -> None:
    admin = UserFactory(email="sam.admin@example.com", roles=[roles.SECURITY_ADMINS])
    response = sign_in_with_saml(saml, saml_idp, tamper=tamper, email="robin@example.com", **who)
    assert response.status_code == 401, response.status_code
    assert "could not verify the sign-in from Acme SAML" in response.text
    assert "_auth_user_id" not in str(response.cookies)
    assert not SocialAccount.objects.exists()
    assert not User.objects.filter(email="robin@example.com").exists()
    assert not AuditEvent.objects.filter(action="auth.signed_in").exists()
    assert not AuditEvent.objects.filter(action="auth.sso_linked", actor_id=admin.pk).exists()
    refused = AuditEvent.objects.get(action="auth.sso_refused")
    assert refused.data["provider"] == SLUG
    assert refused.data["reason"].startswith("The sign-in failed:")
    # The person behind the browser is not signed in as anyone.
    page = requests.get(f"{saml}{reverse('my_access')}", cookies=response.cookies, timeout=10)
    assert page.url.startswith(f"{saml}{reverse('account_login')}")


def test_an_assertion_is_accepted_once_and_only_by_the_session_that_asked(
    saml: str, saml_idp: str
) -> None:
    session, acs, form = at_the_acs(saml, saml_idp, email="robin@example.com")
    assert session.post(acs, data=form, timeout=20).url == f"{saml}{reverse('home')}"
    # The same response, replayed from another browser (or again from this one), is refused.
    for replay in (requests.Session(), session):
        response = replay.post(acs, data=form, timeout=20)
        assert response.status_code == 403
        assert "This sign-in was already used" in response.text
    assert SocialAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action="auth.signed_in").count() == 1


def test_an_idp_initiated_sign_in_is_refused(saml: str, saml_idp: str) -> None:
    """A signed assertion the portal never asked for (no InResponseTo): the browser could
    have been sent to it by anyone, so it signs no one in."""
    next_login(saml_idp, email="robin@example.com")
    page = requests.get(f"{saml_idp}/idp-initiated", timeout=20).text
    assert "InResponseTo" not in base64.b64decode(_form_field(page, "SAMLResponse")).decode()
    acs = re.search(r'<form method="post" action="([^"]+)"', page)
    assert acs
    response = requests.post(
        html.unescape(acs[1]),
        data={"SAMLResponse": _form_field(page, "SAMLResponse"), "RelayState": "/access/"},
        timeout=20,
    )
    assert response.status_code == 401
    assert not User.objects.filter(email="robin@example.com").exists()
    assert AuditEvent.objects.get(action="auth.sso_refused").data["provider"] == SLUG


@pytest.mark.parametrize(
    ("authn_context", "asked_for_totp"),
    [(MFA_CONTEXT, False), ("urn:oasis:names:tc:SAML:2.0:ac:classes:Password", True)],
    ids=["mfa-authn-context", "password-authn-context"],
)
def test_a_privileged_sign_in_counts_the_assertions_mfa_or_asks_the_portals_totp(
    saml: str, saml_idp: str, settings: Any, authn_context: str, asked_for_totp: bool
) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    settings.SSO_SAML_MFA_AUTHN_CONTEXTS = [MFA_CONTEXT]
    admin = UserFactory(email="sam.admin@example.com", roles=[roles.SECURITY_ADMINS])
    UserFactory(email="other.admin@example.com", roles=[roles.SECURITY_ADMINS])
    TotpAuthenticatorFactory(user=admin)
    response = sign_in_with_saml(saml, saml_idp, email=admin.email, authn_context=authn_context)
    if asked_for_totp:
        assert response.url.startswith(f"{saml}{reverse('mfa_authenticate')}")
    else:
        assert response.url == f"{saml}{reverse('home')}"
        assert response.status_code == 200


def test_a_privileged_person_without_totp_must_set_it_up_unless_the_assertion_says_mfa(
    saml: str, saml_idp: str, settings: Any
) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    settings.SSO_SAML_MFA_AUTHN_CONTEXTS = [MFA_CONTEXT]
    hr = UserFactory(email="harper.hr@example.com", roles=[roles.HR])
    plain = sign_in_with_saml(saml, saml_idp, email=hr.email)
    assert reverse("mfa_activate_totp") in plain.url
    with_mfa = sign_in_with_saml(saml, saml_idp, email=hr.email, authn_context=MFA_CONTEXT)
    assert with_mfa.url == f"{saml}{reverse('home')}"


def test_sso_only_with_saml_refuses_passwords_except_the_break_glass_security_admins(
    saml: str, settings: Any, client: Any, employee: Any, security_admin: Any
) -> None:
    settings.SSO_ONLY = True
    settings.SSO_BREAK_GLASS_EMAILS = [security_admin.email]
    UserFactory(email="second.admin@example.com", roles=[roles.SECURITY_ADMINS])
    login = reverse("account_login")
    response = client.post(login, {"login": employee.email, "password": "portal-test-pass"})
    assert "Sign in with Acme SAML: password sign-in is turned off." in response.content.decode()
    assert "_auth_user_id" not in client.session
    response = client.post(login, {"login": security_admin.email, "password": "portal-test-pass"})
    assert client.session["_auth_user_id"] == str(security_admin.pk)
    assert AuditEvent.objects.filter(action="auth.break_glass_sign_in").count() == 1
    assert [message.to for message in mail.outbox] == [["second.admin@example.com"]]


def test_sign_out_ends_the_session_and_says_the_idps_may_still_be_open(
    saml: str, saml_idp: str
) -> None:
    session = requests.Session()
    sign_in_with_saml(saml, saml_idp, session=session, email="robin@example.com")
    page = session.get(f"{saml}{reverse('my_access')}", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token
    out = session.post(
        f"{saml}{reverse('account_logout')}", data={"csrfmiddlewaretoken": token[1]}, timeout=10
    )
    assert "You may still be signed in at Acme SAML" in out.text
    assert session.get(f"{saml}{reverse('my_access')}", timeout=10).url.startswith(
        f"{saml}{reverse('account_login')}"
    )


def test_no_assertion_reaches_the_logs_or_the_database(
    saml: str, saml_idp: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session, acs, form = at_the_acs(saml, saml_idp, email="robin@example.com")
    session.post(acs, data=form, timeout=20)
    assert User.objects.filter(email="robin@example.com").exists()
    stored = str(list(SocialAccount.objects.values())) + str(list(AuditEvent.objects.values()))
    for text in (caplog.text, stored):
        assert form["SAMLResponse"][:40] not in text
        assert "SignatureValue" not in text


def test_the_portals_sp_metadata_asks_for_signed_assertions(saml: str) -> None:
    metadata = requests.get(f"{saml}/accounts/saml/{SLUG}/metadata/", timeout=10).text
    assert f'entityID="{saml}/accounts/saml/{SLUG}/metadata/"' in metadata
    assert 'WantAssertionsSigned="true"' in metadata
    assert f'Location="{saml}/accounts/saml/{SLUG}/acs/"' in metadata


def test_the_idps_metadata_can_be_a_downloaded_file(
    settings: Any, saml_idp: str, live_server: Any, tmp_path: Path
) -> None:
    metadata = tmp_path / "idp-metadata.xml"
    metadata.write_text(requests.get(f"{saml_idp}/metadata", timeout=10).text)
    portal = str(live_server.url)
    _configure(settings, saml_idp, portal, email_verified=True, metadata_url=f"file://{metadata}")
    # The browser may follow the sign-in button on to the IdP's single sign-on service, which
    # only the file names (tests/browser/test_sso_in_a_browser.py shows why it matters).
    policy = requests.get(f"{portal}{reverse('account_login')}", timeout=10).headers[
        "Content-Security-Policy"
    ]
    assert f"form-action 'self' {saml_idp};" in policy
    response = sign_in_with_saml(portal, saml_idp, email="robin@example.com")
    assert response.url == f"{portal}{reverse('home')}"
