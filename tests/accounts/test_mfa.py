"""MFA: TOTP and recovery codes for everyone, required for privileged people when asked."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent

PASSWORD = "portal-test-pass"


def _signed_in(person: Any) -> Client:
    # A real sign-in (not force_login): allauth asks for the password again before MFA
    # changes unless the person has just signed in.
    client = Client()
    response = client.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    counter = counters[len(counters) // 2]
    return format_hotp_value(hotp_value(secret, counter))


def _activate_totp(client: Client) -> None:
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": _current_code(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]


def test_anyone_sets_up_an_authenticator_app_and_gets_recovery_codes(employee: Any) -> None:
    client = _signed_in(employee)
    assert client.get(reverse("mfa_index")).status_code == 200
    _activate_totp(client)
    kinds = set(Authenticator.objects.filter(user=employee).values_list("type", flat=True))
    assert kinds == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    codes_page = client.get(reverse("mfa_view_recovery_codes"))
    assert codes_page.status_code == 200
    assert len(codes_page.context["unused_codes"]) == 10
    assert "Authentication using an authenticator app is active." in (
        client.get(reverse("mfa_index")).content.decode()
    )


def test_adding_mfa_is_audited(employee: Any, django_capture_on_commit_callbacks: Any) -> None:
    client = _signed_in(employee)
    # allauth announces the new authenticator once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        _activate_totp(client)
    events = AuditEvent.objects.filter(action="mfa.added", actor_id=employee.pk)
    assert {event.data["type"] for event in events} == {
        Authenticator.Type.TOTP,
        Authenticator.Type.RECOVERY_CODES,
    }


def test_a_wrong_code_does_not_activate_mfa(employee: Any) -> None:
    client = _signed_in(employee)
    client.get(reverse("mfa_activate_totp"))
    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not Authenticator.objects.filter(user=employee).exists()


def test_turning_mfa_off_still_asks_for_the_password(employee: Any) -> None:
    client = _signed_in(employee)
    _activate_totp(client)
    response = client.get(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_turning_mfa_off_after_the_password_is_audited(
    employee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = _signed_in(employee)
    _activate_totp(client)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=employee, type=Authenticator.Type.TOTP).exists()
    # The recovery codes go with the app.
    events = AuditEvent.objects.filter(action="mfa.removed", actor_id=employee.pk)
    assert {event.data["type"] for event in events} == {
        Authenticator.Type.TOTP,
        Authenticator.Type.RECOVERY_CODES,
    }


def test_with_mfa_set_up_sign_in_asks_for_a_code(employee: Any) -> None:
    _activate_totp(_signed_in(employee))
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": employee.email, "password": PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("manager", "approvals"),
        ("hr", "people_directory"),
        ("security", "operations"),
        ("auditor", "audit_log"),
    ],
)
def test_privileged_people_set_up_mfa_before_any_privileged_page(
    settings: Any, people: dict, role: str, home: str
) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    client = _signed_in(people[role])
    response = client.get(reverse(home))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert client.get(reverse("my_access"))["Location"] == reverse("mfa_activate_totp")
    _activate_totp(client)
    assert client.get(reverse(home)).status_code == 200


@pytest.mark.parametrize("role", ["employee"])
def test_people_without_privileges_are_not_sent_to_mfa_setup(
    settings: Any, people: dict, role: str
) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    client = _signed_in(people[role])
    assert client.get(reverse("my_access")).status_code == 200


def test_mfa_is_not_forced_when_the_setting_is_off(settings: Any, hr_person: Any) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = False
    client = _signed_in(hr_person)
    assert client.get(reverse("people_directory")).status_code == 200


def test_a_wrong_code_at_sign_in_is_audited_without_the_code(employee: Any) -> None:
    _activate_totp(_signed_in(employee))
    client = Client()
    client.post(reverse("account_login"), {"login": employee.email, "password": PASSWORD})
    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == 200  # asked again
    [refused] = AuditEvent.objects.filter(action="mfa.code_refused")
    assert refused.actor_id == employee.pk
    assert refused.data == {"type": Authenticator.Type.TOTP, "reauthentication": False}
    assert "000000" not in str(refused.data)
