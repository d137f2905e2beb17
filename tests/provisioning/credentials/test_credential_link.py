"""The one-time credential link page: only its recipient, signed in; GET confirms, POST reveals
once; used, expired and replaced links say so; nothing of it is cached or sent as a Referer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.credentials import links
from provisioning.models import CredentialLink
from tests.factories import KEY_ID, PASSWORD, SECRET, issued_link

pytestmark = pytest.mark.django_db


def _client(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _assert_private(response: Any) -> None:
    assert "no-store" in response["Cache-Control"]
    # Never a Referer to another site; see REFERRER_POLICY for why not "no-referrer".
    assert response["Referrer-Policy"] == "same-origin"


def test_the_recipient_sees_a_confirm_page_that_does_not_burn_the_link(employee: Any) -> None:
    link, url = issued_link(employee)
    client = _client(employee)

    first = client.get(url)
    second = client.get(url)

    assert first.status_code == second.status_code == 200
    assert "Show my credentials" in first.content.decode()
    assert PASSWORD not in first.content.decode()
    _assert_private(first)
    link.refresh_from_db()
    assert link.revealed_at is None and link.sealed_password is not None


def test_the_recipient_reveals_the_credentials_once_and_they_are_wiped(employee: Any) -> None:
    link, url = issued_link(employee)
    client = _client(employee)

    response = client.post(url)

    page = response.content.decode()
    assert response.status_code == 200
    _assert_private(response)
    for shown in (
        PASSWORD,
        SECRET,
        KEY_ID,
        link.iam_account.user_name,
        "https://123456789012.signin.aws.amazon.com/console",
    ):
        assert shown in page
    assert 'data-copy-target="cred-password"' in page
    assert 'data-copy-target="cred-secret-access-key"' in page
    assert 'data-download-target="credentials-csv"' in page
    assert "change the password at first sign-in" in page
    assert "Turn on MFA" in page
    link.refresh_from_db()
    assert link.revealed_at is not None
    assert link.sealed_password is None and link.sealed_secret_key is None
    assert AuditEvent.objects.filter(action="credential.revealed", actor_id=employee.pk).exists()


def test_the_csv_on_the_reveal_page_is_in_aws_layout(employee: Any) -> None:
    _, url = issued_link(employee)

    page = _client(employee).post(url).content.decode()

    assert (
        "User name,Password,Access key ID,Secret access key,Console login link\n"
        f"employee,{PASSWORD},{KEY_ID},{SECRET},"
        "https://123456789012.signin.aws.amazon.com/console"
    ) in page


def test_a_second_reveal_is_refused_plainly(employee: Any) -> None:
    _, url = issued_link(employee)
    client = _client(employee)
    client.post(url)

    again = client.post(url)
    page = client.get(url)

    assert again.status_code == page.status_code == 410
    assert "already been used" in again.content.decode()
    assert PASSWORD not in again.content.decode()
    _assert_private(again)
    _assert_private(page)


def test_an_expired_link_says_so(employee: Any) -> None:
    link, url = issued_link(employee)
    CredentialLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(1))
    client = _client(employee)

    assert "has expired" in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 410 and "has expired" in response.content.decode()
    link.refresh_from_db()
    assert link.revealed_at is None


def test_a_revoked_link_says_it_was_replaced(employee: Any) -> None:
    link, url = issued_link(employee)
    links.credential_link_revoke(link=link, reason="test")

    response = _client(employee).post(url)

    assert response.status_code == 410
    assert "replaced by a newer one" in response.content.decode()


@pytest.mark.parametrize("role", ["manager", "hr", "security", "auditor"])
def test_nobody_but_the_recipient_can_open_or_reveal_it(people: dict, role: str) -> None:
    link, url = issued_link(people["employee"])
    client = _client(people[role])

    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    link.refresh_from_db()
    assert link.revealed_at is None


def test_signed_out_visitors_are_sent_to_sign_in(employee: Any) -> None:
    link, url = issued_link(employee)

    for response in (_client(None).get(url), _client(None).post(url)):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    link.refresh_from_db()
    assert link.revealed_at is None


def test_an_unknown_token_is_not_found(employee: Any) -> None:
    url = reverse("credential_link", args=["not-a-real-token"])

    assert _client(employee).get(url).status_code == 404


def test_only_the_tokens_hash_is_stored(employee: Any) -> None:
    link, url = issued_link(employee)
    token = url.rstrip("/").rsplit("/", 1)[1]

    link.refresh_from_db()
    assert link.token_hash == links.token_hash(token)
    assert token not in str(CredentialLink.objects.filter(pk=link.pk).values().get())


def test_a_link_with_only_an_access_key_shows_no_console_password(employee: Any) -> None:
    _, url = issued_link(employee, password=None)

    page = _client(employee).post(url).content.decode()

    assert SECRET in page
    assert "cred-password" not in page
    assert "first sign-in" not in page
