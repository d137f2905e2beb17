"""Sign-in through a real OpenID Connect provider (oidc-provider on loopback): the whole
authorization code flow, driven with `requests` against the live portal."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.urls import reverse

from accounts import roles
from accounts.models import User
from accounts.people_import import people_import
from audit.models import AuditEvent
from tests.factories import TotpAuthenticatorFactory, UserFactory
from tests.oidc_provider import CLIENT_SECRET, app_settings, next_login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def idp(oidc_idp: str) -> str:
    return oidc_idp


@pytest.fixture
def sso(settings: Any, idp: str, live_server: Any) -> str:
    """The portal configured with the provider; returns the portal's URL."""
    apps = [app_settings(idp)]
    settings.SSO_OIDC_APPS = apps
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": apps}
    }
    settings.PORTAL_BASE_URL = live_server.url
    return str(live_server.url)


def _account(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "sub": f"sub-{email}",
        "email": email,
        "email_verified": True,
        "name": "Robin Idp",
        **extra,
    }


def sign_in_with_idp(
    portal: str, idp: str, session: requests.Session | None = None, **who: Any
) -> requests.Response:
    next_login(idp, **who)
    session = session or requests.Session()
    session.get(f"{portal}{reverse('account_login')}", timeout=10)
    return session.post(
        f"{portal}/accounts/oidc/sso/login/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=20,
    )


def test_the_sign_in_page_offers_the_identity_provider_first(sso: str) -> None:
    page = requests.get(f"{sso}{reverse('account_login')}", timeout=10).text
    assert "Sign in with Acme SSO" in page
    assert page.index("Sign in with Acme SSO") < page.index('name="password"')


def test_a_new_person_is_created_just_in_time_as_an_employee_only(sso: str, idp: str) -> None:
    response = sign_in_with_idp(sso, idp, **_account("robin.new@example.com"))
    assert response.url == f"{sso}{reverse('home')}", response.text[:500]
    person = User.objects.get(email="robin.new@example.com")
    assert person.full_name == "Robin Idp"
    assert [group.name for group in person.groups.all()] == [roles.EMPLOYEES]
    assert not person.has_usable_password()
    created = AuditEvent.objects.get(action="person.created")
    assert created.actor_label == "sso:sso" and created.data["via"] == "sso"
    assert AuditEvent.objects.filter(action="auth.signed_in", actor_id=person.pk).exists()


def test_an_imported_person_is_linked_by_email_and_signs_in_as_themselves(
    sso: str, idp: str, hr_person: Any
) -> None:
    people_import(
        actor=hr_person,
        content=b"email,full_name,department,manager_email\nimported@example.com,Ima Ported,Ops,\n",
    )
    person = User.objects.get(email="imported@example.com")
    response = sign_in_with_idp(sso, idp, **_account("Imported@Example.com"))
    assert response.url == f"{sso}{reverse('home')}"
    assert User.objects.filter(email__iexact="imported@example.com").count() == 1
    link = SocialAccount.objects.get(user=person)
    assert link.uid == "sub-Imported@Example.com"
    assert AuditEvent.objects.get(action="auth.sso_linked").actor_id == person.pk
    # No token of the provider is kept.
    assert not SocialToken.objects.exists()


def test_an_email_already_linked_is_never_linked_to_another_identity(sso: str, idp: str) -> None:
    sign_in_with_idp(sso, idp, **_account("robin@example.com"))
    response = sign_in_with_idp(
        sso, idp, **{**_account("robin@example.com"), "sub": "someone-else"}
    )
    assert response.status_code == 403
    assert "already linked to another Acme SSO identity" in response.text
    assert SocialAccount.objects.count() == 1


def test_an_unverified_email_is_refused(sso: str, idp: str) -> None:
    response = sign_in_with_idp(
        sso, idp, **_account("unverified@example.com", email_verified=False)
    )
    assert response.status_code == 403
    assert "has not verified your email address" in response.text
    assert not User.objects.filter(email="unverified@example.com").exists()
    assert (
        AuditEvent.objects.get(action="auth.sso_refused").data["email"] == "unverified@example.com"
    )


def test_an_email_of_another_domain_is_refused(sso: str, idp: str) -> None:
    response = sign_in_with_idp(sso, idp, **_account("outsider@elsewhere.org"))
    assert response.status_code == 403
    assert "is not an address of the organisation" in response.text
    assert not User.objects.filter(email="outsider@elsewhere.org").exists()


def test_sso_only_refuses_passwords_except_the_break_glass_security_admins(
    sso: str, settings: Any, client: Any, employee: Any, security_admin: Any, auditor: Any
) -> None:
    from django.core import mail

    settings.SSO_ONLY = True
    settings.SSO_BREAK_GLASS_EMAILS = [security_admin.email, employee.email]
    other_admin = UserFactory(email="second.admin@example.com", roles=[roles.SECURITY_ADMINS])
    login = reverse("account_login")
    for person in (employee, auditor):
        response = client.post(login, {"login": person.email, "password": "portal-test-pass"})
        assert response.status_code == 200
        assert "Sign in with Acme SSO: password sign-in is turned off." in response.content.decode()
        assert "_auth_user_id" not in client.session
    response = client.post(login, {"login": security_admin.email, "password": "portal-test-pass"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(security_admin.pk)
    event = AuditEvent.objects.get(action="auth.break_glass_sign_in")
    assert event.actor_id == security_admin.pk
    [alert] = mail.outbox
    assert alert.to == [other_admin.email]
    assert alert.subject == f"Break-glass sign-in by {security_admin.get_full_name()}"
    page = client.get(login)
    assert page.status_code == 302  # signed in already


@pytest.mark.parametrize(
    ("claims", "asked_for_totp"),
    [
        ({"amr": ["pwd", "mfa"]}, False),
        ({"amr": ["pwd"], "acr": "urn:portal:mfa"}, False),
        ({"amr": ["pwd"]}, True),
    ],
    ids=["amr-mfa", "acr-named-in-settings", "password-only"],
)
def test_a_privileged_sign_in_counts_the_idps_mfa_or_asks_the_portals_totp(
    sso: str, idp: str, settings: Any, claims: dict, asked_for_totp: bool
) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    settings.SSO_MFA_ACR_VALUES = ["urn:portal:mfa"]
    admin = UserFactory(email="sam.admin@example.com", roles=[roles.SECURITY_ADMINS])
    UserFactory(email="other.admin@example.com", roles=[roles.SECURITY_ADMINS])
    TotpAuthenticatorFactory(user=admin)
    response = sign_in_with_idp(sso, idp, **_account(admin.email, **claims))
    if asked_for_totp:
        assert response.url.startswith(f"{sso}{reverse('mfa_authenticate')}")
    else:
        assert response.url == f"{sso}{reverse('home')}"
        assert response.status_code == 200


def test_a_privileged_person_without_totp_must_set_it_up_unless_the_idp_did_mfa(
    sso: str, idp: str, settings: Any
) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    hr = UserFactory(email="harper.hr@example.com", roles=[roles.HR])
    plain = sign_in_with_idp(sso, idp, **_account(hr.email, amr=["pwd"]))
    assert reverse("mfa_activate_totp") in plain.url
    with_mfa = sign_in_with_idp(sso, idp, **{**_account(hr.email), "amr": ["mfa"]})
    assert with_mfa.url == f"{sso}{reverse('home')}"


def test_sign_out_ends_the_session_and_offers_the_providers_logout(sso: str, idp: str) -> None:
    session = requests.Session()
    sign_in_with_idp(sso, idp, session=session, **_account("robin@example.com"))
    page = session.get(f"{sso}{reverse('my_access')}", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token
    out = session.post(
        f"{sso}{reverse('account_logout')}", data={"csrfmiddlewaretoken": token[1]}, timeout=10
    )
    assert out.url == f"{sso}{reverse('account_login')}"
    assert "Sign out of Acme SSO too" in out.text
    assert session.get(f"{sso}{reverse('my_access')}", timeout=10).url.startswith(
        f"{sso}{reverse('account_login')}"
    )
    end = session.post(
        f"{sso}{reverse('sso_logout', args=['sso'])}",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=10,
    )
    assert end.status_code == 302
    assert end.headers["Location"].startswith(f"{idp}/session/end?client_id=portal")
    assert "post_logout_redirect_uri=" in end.headers["Location"]


def test_neither_the_client_secret_nor_any_token_reaches_the_logs_or_the_database(
    sso: str, idp: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sign_in_with_idp(sso, idp, **_account("robin@example.com"))
    assert User.objects.filter(email="robin@example.com").exists()
    assert CLIENT_SECRET not in caplog.text
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", caplog.text), "a JWT was logged"
    stored = str(list(SocialAccount.objects.values())) + str(list(AuditEvent.objects.values()))
    assert CLIENT_SECRET not in stored
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", stored)
    assert not SocialToken.objects.exists()
