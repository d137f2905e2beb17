"""MFA enrolled at hand-over: a virtual device made in AWS, its seed shown as a QR code and
sealed meanwhile, enabled with two consecutive codes that the strict layer checks as AWS does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.guardrails.models import MfaEnrolment
from tests.factories import UserFactory
from tests.guardrails_strict import consecutive_codes
from tests.provisioning.guardrails.conftest import signed_in

pytestmark = pytest.mark.django_db


def _seed(page: str) -> str:
    found = re.search(r'id="mfa-seed">([A-Z2-7]+)<', page)
    assert found, "the page shows no seed"
    return found.group(1)


def _start(client: Any, account: Any) -> str:
    url = reverse("guardrails_mfa", args=[account.pk])
    response = client.post(url, {"action": "start"}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_a_person_enrols_mfa_with_two_consecutive_codes_and_the_seed_is_wiped(
    employee: Any, employee_account: Any
) -> None:
    client = signed_in(employee)
    page = _start(client, employee_account)
    seed = _seed(page)
    assert 'src="data:image/svg+xml' in page
    enrolment = MfaEnrolment.objects.get(iam_account=employee_account)
    assert enrolment.sealed_seed is not None
    assert seed.encode() not in bytes(enrolment.sealed_seed)

    first, second = consecutive_codes(seed)
    response = client.post(
        reverse("guardrails_mfa", args=[employee_account.pk]),
        {"action": "enable", "code_1": first, "code_2": second},
        follow=True,
    )

    assert "MFA is on" in response.content.decode()
    assert gateway.mfa_serial_numbers("employee") == [enrolment.serial_number]
    enrolment.refresh_from_db()
    assert enrolment.status == MfaEnrolment.Status.ENABLED and enrolment.sealed_seed is None
    assert AuditEvent.objects.filter(action="iam.mfa_device.enabled", actor_id=employee.pk).exists()


def test_wrong_codes_are_refused_with_a_message_and_the_device_stays_off(
    employee: Any, employee_account: Any, strict: Any
) -> None:
    client = signed_in(employee)
    seed = _seed(_start(client, employee_account))
    first, second = consecutive_codes(seed)
    wrong = f"{(int(second) + 1) % 1_000_000:06d}"

    response = client.post(
        reverse("guardrails_mfa", args=[employee_account.pk]),
        {"action": "enable", "code_1": first, "code_2": wrong},
    )

    page = response.content.decode()
    assert "AWS did not accept those codes" in page
    assert _seed(page) == seed  # the same device, to try again
    assert gateway.mfa_serial_numbers("employee") == []
    assert ("EnableMFADevice", "InvalidAuthenticationCode") in strict.refused
    assert MfaEnrolment.objects.get(iam_account=employee_account).refused_attempts == 1
    assert AuditEvent.objects.filter(action="iam.mfa_device.codes_refused").count() == 1


def test_codes_that_are_not_six_digits_or_repeat_are_refused_before_aws(
    employee: Any, employee_account: Any, strict: Any
) -> None:
    client = signed_in(employee)
    _start(client, employee_account)
    url = reverse("guardrails_mfa", args=[employee_account.pk])

    letters = client.post(url, {"action": "enable", "code_1": "12ab56", "code_2": "123456"})
    same = client.post(url, {"action": "enable", "code_1": "123456", "code_2": "123456"})

    assert "six digits" in letters.content.decode()
    assert "the same" in same.content.decode()
    assert "EnableMFADevice" not in strict.operations()


def test_starting_again_replaces_an_unfinished_device(employee: Any, employee_account: Any) -> None:
    client = signed_in(employee)
    first_seed = _seed(_start(client, employee_account))
    second_seed = _seed(_start(client, employee_account))

    assert first_seed != second_seed
    statuses = sorted(MfaEnrolment.objects.values_list("status", flat=True))
    assert statuses == ["abandoned", "pending"]
    assert MfaEnrolment.objects.get(status="abandoned").sealed_seed is None


def test_an_iam_user_that_has_mfa_already_is_not_given_another_device(
    employee: Any, employee_account: Any
) -> None:
    client = signed_in(employee)
    seed = _seed(_start(client, employee_account))
    first, second = consecutive_codes(seed)
    url = reverse("guardrails_mfa", args=[employee_account.pk])
    client.post(url, {"action": "enable", "code_1": first, "code_2": second})

    response = client.post(url, {"action": "start"}, follow=True)

    assert "already has an MFA device" in response.content.decode()


def test_someone_elses_iam_user_has_no_mfa_page(employee_account: Any) -> None:
    stranger = signed_in(UserFactory())
    url = reverse("guardrails_mfa", args=[employee_account.pk])

    assert stranger.get(url).status_code == 404
    assert stranger.post(url, {"action": "start"}).status_code == 404
    assert not MfaEnrolment.objects.exists()


def test_the_set_up_page_is_never_cached(employee: Any, employee_account: Any) -> None:
    client = signed_in(employee)
    _start(client, employee_account)

    response = client.get(reverse("guardrails_mfa", args=[employee_account.pk]))

    assert "no-store" in response["Cache-Control"]


def test_the_reveal_page_offers_mfa_and_explains_keys_under_the_mfa_policy(
    employee: Any, employee_account: Any
) -> None:
    from tests.factories import issued_link

    _, path = issued_link(employee)
    page = signed_in(employee).post(path).content.decode()

    assert reverse("guardrails_mfa", args=[employee_account.pk]) in page
    assert "aws sts get-session-token" in page
    assert "mfa_serial = arn:aws:iam::123456789012:mfa/employee" in page


def test_the_help_page_shows_the_session_token_command_and_a_config_snippet(
    employee: Any, employee_account: Any
) -> None:
    page = signed_in(employee).get(reverse("guardrails_credentials_help")).content.decode()

    assert "--serial-number arn:aws:iam::123456789012:mfa/employee" in page
    assert "[profile portal-mfa]" in page
    assert "PortalRequireMFA" in page
