"""`manage.py offboard`: the same offboarding as the button, for HR automation."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from provisioning import aws
from provisioning.models import Offboarding
from tests import strict_iam
from tests.factories import IamAccountFactory, UserFactory


@pytest.fixture
def leaver(strict: Any, db: None) -> Any:
    person = UserFactory(email="cli.leaver@example.com")
    strict_iam.load_user("cli.leaver")
    IamAccountFactory(owner=person, user_name="cli.leaver")
    return person


def _offboard(*args: str) -> str:
    out = io.StringIO()
    call_command("offboard", *args, stdout=out)
    return out.getvalue()


def test_wait_tears_down_here_and_prints_the_report(leaver: Any, hr_person: Any) -> None:
    output = _offboard("CLI.Leaver@example.com", "--actor", hr_person.email, "--wait")
    assert "completed (delete)" in output
    assert "IAM user cli.leaver: deleted" in output
    assert "Access keys: found 2, removed 2, remaining 0" in output
    assert not aws.read_user("cli.leaver").exists
    leaver.refresh_from_db()
    assert not leaver.is_active
    assert Offboarding.objects.get().started_by == hr_person


def test_disable_with_json_prints_the_report_as_json(leaver: Any, hr_person: Any) -> None:
    output = _offboard(leaver.email, "--actor", hr_person.email, "--disable", "--wait", "--json")
    report = json.loads(output)
    assert report["status"] == "completed"
    assert report["mode"] == "disable"
    assert report["remaining_total"] == 0
    assert aws.read_user("cli.leaver").deny_all_attached


def test_without_wait_the_worker_gets_the_teardown(
    leaver: Any, hr_person: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        output = _offboard(leaver.email, "--actor", hr_person.email)
    assert "started" in output
    assert len(callbacks) == 1
    assert aws.read_user("cli.leaver").login_profile  # untouched until the worker runs


def test_an_incomplete_offboarding_exits_with_an_error(
    leaver: Any, hr_person: Any, settings: Any
) -> None:
    settings.AWS_FAULT_INJECTION = "before:RemoveUserFromGroup:error=AccessDenied"
    with pytest.raises(CommandError, match="incomplete"):
        _offboard(leaver.email, "--actor", hr_person.email, "--wait")
    assert Offboarding.objects.get().status == Offboarding.Status.INCOMPLETE


def test_the_actor_must_be_allowed_to_offboard(leaver: Any, employee: Any) -> None:
    with pytest.raises(CommandError, match="Only HR"):
        _offboard(leaver.email, "--actor", employee.email)
    leaver.refresh_from_db()
    assert leaver.is_active


def test_an_unknown_person_is_an_error(hr_person: Any, db: None) -> None:
    with pytest.raises(CommandError, match=r"nobody@example\.com"):
        _offboard("nobody@example.com", "--actor", hr_person.email)
