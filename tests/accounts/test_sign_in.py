"""Signing in with allauth: email and password, role home pages, audit, rate limits,
password reset, closed sign-up."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.models import User
from accounts.people_import import people_import
from audit.models import AuditEvent

PASSWORD = "portal-test-pass"


def _sign_in(client: Client, email: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("account_login"), {"login": email, "password": password})


# What each role finds on its home page: a figure naming its work, linking to where it is done.
HOMES = {
    "employee": ("My open requests", "my_access"),
    "manager": ("Approvals waiting for me", "approvals"),
    "hr": ("Offboardings in progress", "people_directory"),
    "security": ("Provisioning needing attention", "operations"),
    "auditor": ("Audit events in the last 24 hours", "audit_log"),
}


@pytest.mark.parametrize("role", sorted(HOMES))
def test_each_role_signs_in_with_email_and_lands_on_its_home_page(
    client: Client, people: dict, role: str
) -> None:
    response = _sign_in(client, people[role].email.upper())
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(response["Location"])
    assert home.status_code == 200
    label, url_name = HOMES[role]
    page = home.content.decode()
    assert label in page
    assert f'href="{reverse(url_name)}"' in page


def test_sign_in_is_audited_with_the_person_and_ip(client: Client, employee: Any) -> None:
    _sign_in(client, employee.email)
    event = AuditEvent.objects.get(action="auth.signed_in")
    assert event.actor_id == employee.pk
    assert event.target == f"person:{employee.pk}"
    assert event.ip == "127.0.0.1"


def test_failed_sign_in_is_refused_and_audited_without_the_password(
    client: Client, employee: Any
) -> None:
    response = _sign_in(client, employee.email, "wrong-password-123")
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in (
        response.content.decode()
    )
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert event.data == {"email": employee.email}
    assert event.ip == "127.0.0.1"
    assert "wrong-password-123" not in str(event.data)


def test_repeated_failures_make_the_next_sign_in_wait(client: Client, employee: Any) -> None:
    for _ in range(5):
        _sign_in(client, employee.email, "wrong-password-123")
    # Even the right password is refused now, with a message that says why.
    response = _sign_in(client, employee.email)
    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(employee: Any) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(5):
        _sign_in(attacker, employee.email, "wrong-password-123")
    assert "Too many failed login attempts" in _sign_in(attacker, employee.email).content.decode()

    owner = Client(REMOTE_ADDR="198.51.100.20")
    assert _sign_in(owner, employee.email).status_code == 302
    assert "_auth_user_id" in owner.session


def test_the_account_alone_locks_only_after_many_failures_from_many_addresses(
    employee: Any,
) -> None:
    for attempt in range(50):
        _sign_in(Client(REMOTE_ADDR=f"192.0.2.{attempt}"), employee.email, "wrong-password-123")
    owner = Client(REMOTE_ADDR="198.51.100.20")
    response = _sign_in(owner, employee.email)
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in owner.session


def test_an_offboarded_person_cannot_sign_in(client: Client, employee: Any) -> None:
    employee.is_active = False
    employee.save()
    response = _sign_in(client, employee.email)
    assert "_auth_user_id" not in client.session
    assert response["Location"] == reverse("account_inactive")


# --- Password reset --------------------------------------------------------------------------


def _reset_link(message: Any) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", message.body)
    assert found, message.body
    return found.group(1)


def _reset_password(client: Client, email: str, new_password: str) -> Any:
    client.post(reverse("account_reset_password"), {"email": email})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [email]
    link = _reset_link(message)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    return client.post(set_url, {"password1": new_password, "password2": new_password})


def test_forgotten_password_is_reset_through_the_emailed_link(
    client: Client, employee: Any
) -> None:
    done = _reset_password(client, employee.email, "a-brand-new-passphrase")
    assert done.status_code == 302
    assert done["Location"] == reverse("account_reset_password_from_key_done")
    assert _sign_in(Client(), employee.email, "a-brand-new-passphrase").status_code == 302
    assert _sign_in(Client(), employee.email, PASSWORD).status_code == 200


def test_someone_imported_by_hr_sets_a_first_password_through_forgot_password(
    client: Client, db: None
) -> None:
    people_import(
        actor=None,
        content=b"email,full_name,department,manager_email\nnew@example.com,New Person,Eng,\n",
    )
    assert _sign_in(Client(), "new@example.com", "").status_code == 200
    _reset_password(client, "new@example.com", "my-first-passphrase")
    response = _sign_in(Client(), "new@example.com", "my-first-passphrase")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_the_reset_email_names_the_portal_and_carries_a_link_and_no_password(
    client: Client, employee: Any
) -> None:
    client.post(reverse("account_reset_password"), {"email": employee.email})
    assert mail.outbox[0].subject == "[IAM Access Portal] Password Reset Email"
    body = mail.outbox[0].body
    assert body.startswith("Hello from IAM Access Portal!")
    assert "/accounts/password/reset/key/" in body
    assert PASSWORD not in body


# --- Sign-up -----------------------------------------------------------------------------------


def test_sign_up_is_closed_unless_turned_on(client: Client, settings: Any, db: None) -> None:
    settings.PORTAL_SELF_SIGNUP = False
    login_page = client.get(reverse("account_login")).content.decode()
    assert reverse("account_signup") not in login_page
    assert "HR adds everyone to the portal" in login_page
    response = client.post(
        reverse("account_signup"),
        {"email": "walk-in@example.com", "password1": "a-long-passphrase", "password2": "x"},
    )
    assert "Sign Up Closed" in response.content.decode()
    assert not User.objects.filter(email="walk-in@example.com").exists()


def test_with_sign_up_on_only_the_allowed_domains_may_sign_up(
    client: Client, settings: Any, db: None
) -> None:
    settings.PORTAL_SELF_SIGNUP = True
    settings.PORTAL_ALLOWED_EMAIL_DOMAINS = ["example.org", "example.net"]
    assert reverse("account_signup") in client.get(reverse("account_login")).content.decode()
    data = {"password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"}
    refused = client.post(reverse("account_signup"), {"email": "someone@elsewhere.com", **data})
    assert (
        "someone@elsewhere.com is not an address of the organisation "
        "(allowed: @example.org, @example.net)." in refused.content.decode()
    )
    assert not User.objects.filter(email="someone@elsewhere.com").exists()

    accepted = client.post(reverse("account_signup"), {"email": "New@Example.org", **data})
    assert accepted.status_code == 302
    person = User.objects.get(email="new@example.org")
    assert list(person.groups.values_list("name", flat=True)) == [roles.EMPLOYEES]
    event = AuditEvent.objects.get(action="person.created")
    assert event.data == {
        "email": "new@example.org",
        "full_name": "",
        "department": "",
        "manager": "",
        "via": "sign-up",
    }


def test_the_allowed_domains_do_not_stop_others_resetting_their_password(
    client: Client, settings: Any, employee: Any
) -> None:
    settings.PORTAL_SELF_SIGNUP = True
    settings.PORTAL_ALLOWED_EMAIL_DOMAINS = ["example.org"]
    client.post(reverse("account_reset_password"), {"email": employee.email})
    assert [message.to for message in mail.outbox] == [[employee.email]]


# --- Idle privileged sessions -------------------------------------------------------------------


def test_a_privileged_session_ends_after_the_idle_minutes(people: Any, settings: Any) -> None:
    import time_machine
    from django.utils import timezone

    settings.PRIVILEGED_IDLE_MINUTES = 30
    hr = Client()
    _sign_in(hr, people["hr"].email)
    assert hr.get(reverse("people_directory")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=29)):
        assert hr.get(reverse("people_directory")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=29 + 31)):
        response = hr.get(reverse("people_directory"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
        assert "_auth_user_id" not in hr.session
        page = hr.get(response["Location"]).content.decode()
        assert "signed out after 30 minutes without activity" in page


def test_an_employees_session_is_not_cut_for_idling(people: Any, settings: Any) -> None:
    import time_machine
    from django.utils import timezone

    settings.PRIVILEGED_IDLE_MINUTES = 30
    employee = Client()
    _sign_in(employee, people["employee"].email)
    with time_machine.travel(timezone.now() + timedelta(minutes=90)):
        assert employee.get(reverse("my_access")).status_code == 200
