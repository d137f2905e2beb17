"""HR's pages: who may see and press Offboard, the live blast radius, CSRF, the reports."""

from __future__ import annotations

import csv
import io
import json
import socket
import time
from typing import Any

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from provisioning import aws
from provisioning.models import Offboarding, RoleGroup
from provisioning.offboarding.selectors import AWS_SILENT
from provisioning.offboarding.start import offboarding_start
from tests import strict_iam
from tests.factories import (
    AccessRequestFactory,
    IamAccountFactory,
    OffboardingFactory,
    TotpAuthenticatorFactory,
    UserFactory,
)

NOT_HR = ("employee", "manager", "security", "auditor")


def _client(person: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(person)
    return client


def _confirm_url(person: Any) -> str:
    return reverse("offboard_person", args=[person.pk])


def _leaver(people: dict[str, Any]) -> Any:
    return UserFactory(email="leaver@example.com", full_name="Lee Leaver")


# --- Who may ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(people: dict[str, Any]) -> None:
    leaver = _leaver(people)
    offboarding = OffboardingFactory(person=leaver, started_by=people["hr"])
    for url in (
        _confirm_url(leaver),
        reverse("offboarding_detail", args=[offboarding.pk]),
        reverse("offboarding_report_json", args=[offboarding.pk]),
        reverse("offboarding_report_csv", args=[offboarding.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("role", NOT_HR)
def test_only_hr_may_open_the_confirm_page_or_post_it(
    role: str, people: dict[str, Any], strict: Any
) -> None:
    leaver = _leaver(people)
    client = _client(people[role])
    assert client.get(_confirm_url(leaver)).status_code == 403
    assert client.post(_confirm_url(leaver), {"mode": "delete"}).status_code == 403
    leaver.refresh_from_db()
    assert leaver.is_active
    assert not Offboarding.objects.exists()


def test_hr_may_open_the_confirm_page(people: dict[str, Any], strict: Any) -> None:
    assert _client(people["hr"]).get(_confirm_url(_leaver(people))).status_code == 200


def test_hr_cannot_offboard_themselves_through_the_page(people: dict[str, Any]) -> None:
    hr = people["hr"]
    client = _client(hr)
    assert client.get(_confirm_url(hr)).status_code == 403
    assert client.post(_confirm_url(hr), {"mode": "delete"}).status_code == 403
    hr.refresh_from_db()
    assert hr.is_active


def test_the_post_needs_a_csrf_token(people: dict[str, Any], strict: Any) -> None:
    leaver = _leaver(people)
    client = _client(people["hr"], enforce_csrf_checks=True)
    refused = client.post(_confirm_url(leaver), {"mode": "delete"})
    assert refused.status_code == 403
    leaver.refresh_from_db()
    assert leaver.is_active

    page = client.get(_confirm_url(leaver))
    token = page.context["csrf_token"]
    accepted = client.post(_confirm_url(leaver), {"mode": "delete", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    leaver.refresh_from_db()
    assert not leaver.is_active


def test_hr_without_mfa_is_sent_to_set_it_up_where_it_is_required(
    people: dict[str, Any], settings: Any
) -> None:
    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    leaver = _leaver(people)
    client = _client(people["hr"])
    for response in (
        client.get(_confirm_url(leaver)),
        client.post(_confirm_url(leaver), {"mode": "delete"}),
    ):
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")
    leaver.refresh_from_db()
    assert leaver.is_active


def test_hr_with_mfa_may_offboard_where_it_is_required(
    people: dict[str, Any], settings: Any
) -> None:
    from allauth.mfa.models import Authenticator

    settings.REQUIRE_MFA_FOR_PRIVILEGED = True
    hr = people["hr"]
    TotpAuthenticatorFactory(user=hr, type=Authenticator.Type.TOTP, data={})
    leaver = _leaver(people)
    response = _client(hr).post(_confirm_url(leaver), {"mode": "delete"})
    assert response.status_code == 302
    leaver.refresh_from_db()
    assert not leaver.is_active


# --- The button on the person's page ---------------------------------------------------------


def _panel(viewer: Any, person: Any) -> str:
    request = RequestFactory().get("/")
    request.user = viewer
    return render_to_string(
        "provisioning/offboarding/_person_panel.html", {"person": person}, request=request
    )


def test_the_offboard_button_shows_for_hr_only_and_never_on_their_own_page(
    people: dict[str, Any],
) -> None:
    leaver = _leaver(people)
    assert _confirm_url(leaver) in _panel(people["hr"], leaver)
    assert _confirm_url(people["hr"]) not in _panel(people["hr"], people["hr"])
    for role in NOT_HR:
        assert _confirm_url(leaver) not in _panel(people[role], leaver)


def test_the_person_page_carries_the_panel_with_the_latest_status(
    people: dict[str, Any],
) -> None:
    leaver = _leaver(people)
    panel = reverse("person_access", args=[leaver.pk])
    page = _client(people["hr"]).get(panel).content.decode()
    assert _confirm_url(leaver) in page
    offboarding = offboarding_start(actor=people["hr"], person=leaver, enqueue=False)
    page = _client(people["hr"]).get(panel).content.decode()
    assert "Pending teardown" in page
    assert reverse("offboarding_detail", args=[offboarding.pk]) in page
    # No second button while the first offboarding runs.
    assert _confirm_url(leaver) not in page


# --- The confirm page ------------------------------------------------------------------------


def test_the_confirm_page_shows_the_blast_radius_read_live_from_aws(
    people: dict[str, Any], strict: Any
) -> None:
    leaver = _leaver(people)
    UserFactory(email="report-of-leaver@example.com", manager=leaver)
    made = strict_iam.load_user("lee.leaver")
    IamAccountFactory(owner=leaver, user_name="lee.leaver")
    AccessRequestFactory(
        requester=leaver,
        role_group=RoleGroup.objects.get(name="Analysts"),
        access_type="console",
        justification="work",
    )
    inventory = aws.read_user("lee.leaver")

    page = _client(people["hr"]).get(_confirm_url(leaver)).content.decode()

    assert "lee.leaver" in page
    assert "enabled" in page  # console login
    for key in made["access_keys"]:
        assert key in page
    assert "never used" in page
    assert made["mfa_serial"] in page
    assert inventory.ssh_public_keys[0] in page
    assert inventory.signing_certificates[0] in page
    assert inventory.service_specific_credentials[0] in page
    for group in made["groups"]:
        assert group in page
    assert "personal-bucket" in page
    assert inventory.attached_policies[0] in page
    assert "arn:aws:iam::123456789012:policy/boundary" in page
    assert "Analysts" in page  # the open request
    assert "report-of-leaver@example.com" in page
    assert 'value="delete"' in page and "checked" in page


def test_the_confirm_page_takes_the_same_queries_for_one_or_many_iam_users(
    people: dict[str, Any], strict: Any
) -> None:
    leaver = _leaver(people)
    client = _client(people["hr"])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(_confirm_url(leaver)).status_code == 200
        return len(captured)

    IamAccountFactory(owner=leaver, user_name="one")
    one = queries()
    for name in ("two", "three", "four"):
        IamAccountFactory(owner=leaver, user_name=name)
    assert queries() == one


def test_the_confirm_page_still_offers_to_offboard_when_aws_cannot_be_read(
    people: dict[str, Any], strict: Any, settings: Any
) -> None:
    leaver = _leaver(people)
    IamAccountFactory(owner=leaver, user_name="unreadable")
    settings.AWS_FAULT_INJECTION = "before:GetUser:error=AccessDenied"
    page = _client(people["hr"]).get(_confirm_url(leaver)).content.decode()
    assert "Could not read it from AWS" in page
    assert "AccessDenied" in page
    assert 'name="mode"' in page


def test_when_aws_does_not_answer_the_confirm_page_says_so_after_one_short_attempt(
    people: dict[str, Any], settings: Any
) -> None:
    leaver = _leaver(people)
    IamAccountFactory(owner=leaver, user_name="silent")
    # A server that takes the connection and never answers: AWS hanging, not refusing.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{silent.getsockname()[1]}"
        settings.AWS_QUICK_READ_TIMEOUT = 1
        aws.reset_clients()
        started = time.monotonic()
        page = _client(people["hr"]).get(_confirm_url(leaver)).content.decode()
        waited = time.monotonic() - started
    aws.reset_clients()
    assert AWS_SILENT in page
    assert 'name="mode"' in page
    # One attempt of one second, not AWS_MAX_ATTEMPTS x AWS_READ_TIMEOUT (5 x 20 s = 100 s); the
    # margin is for a loaded machine.
    assert waited < 8


def test_a_second_confirmation_while_the_first_runs_is_refused_with_a_message(
    people: dict[str, Any],
) -> None:
    leaver = _leaver(people)
    client = _client(people["hr"])
    first = client.post(_confirm_url(leaver), {"mode": "delete"})
    assert first.status_code == 302
    second = client.post(_confirm_url(leaver), {"mode": "delete"}, follow=True)
    assert "already being offboarded" in second.content.decode()
    assert Offboarding.objects.filter(person=leaver).count() == 1


# --- The report ------------------------------------------------------------------------------


def test_the_report_downloads_as_json_and_csv(
    people: dict[str, Any], strict: Any, django_capture_on_commit_callbacks: Any
) -> None:
    leaver = _leaver(people)
    strict_iam.load_user("lee.leaver")
    IamAccountFactory(owner=leaver, user_name="lee.leaver")
    with django_capture_on_commit_callbacks(execute=True):
        offboarding = offboarding_start(actor=people["hr"], person=leaver)
    client = _client(people["hr"])

    answer = client.get(reverse("offboarding_report_json", args=[offboarding.pk]))
    assert (
        answer["Content-Disposition"] == f'attachment; filename="offboarding-{offboarding.pk}.json"'
    )
    document = json.loads(answer.content)
    assert document["status"] == "completed"
    assert document["remaining_total"] == 0
    assert document["person"] == "leaver@example.com"
    [account] = document["accounts"]
    assert account["kinds"]["access_keys"] == {"found": 2, "removed": 2, "remaining": 0}

    answer = client.get(reverse("offboarding_report_csv", args=[offboarding.pk]))
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert len(rows) == len(aws.CREDENTIAL_KINDS) + 1  # every kind, and the user itself
    assert {row["remaining"] for row in rows} == {"0"}
    assert {row["iam_user"] for row in rows} == {"lee.leaver"}
    keys = next(row for row in rows if row["kind"] == "access_keys")
    assert (keys["found"], keys["removed"]) == ("2", "2")

    page = client.get(reverse("offboarding_detail", args=[offboarding.pk])).content.decode()
    assert "Completed" in page
    assert "Access keys" in page


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("hr", True), ("auditor", True), ("security", True), ("employee", False), ("manager", False)],
)
def test_reports_are_for_hr_and_auditors(role: str, allowed: bool, people: dict[str, Any]) -> None:
    offboarding = OffboardingFactory(person=_leaver(people), started_by=people["hr"])
    client = _client(people[role])
    for name in ("offboarding_detail", "offboarding_report_json", "offboarding_report_csv"):
        status = client.get(reverse(name, args=[offboarding.pk])).status_code
        assert status == (200 if allowed else 403), name


def test_the_result_page_polls_while_the_worker_is_busy(people: dict[str, Any]) -> None:
    offboarding = OffboardingFactory(person=_leaver(people), started_by=people["hr"])
    client = _client(people["hr"])
    page = client.get(reverse("offboarding_detail", args=[offboarding.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page
    fragment = client.get(
        reverse("offboarding_detail", args=[offboarding.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.lstrip().startswith("<section")
    assert "<html" not in fragment


def test_a_second_hr_person_may_offboard_the_first(people: dict[str, Any]) -> None:
    other_hr = UserFactory(roles=[roles.HR])
    response = _client(other_hr).post(_confirm_url(people["hr"]), {"mode": "disable"})
    assert response.status_code == 302
    assert Offboarding.objects.get().mode == Offboarding.Mode.DISABLE
