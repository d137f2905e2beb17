"""The daily runs, with time travel: keys reminded at 75 and 85 days and deactivated at 90
(an extension, once, moves that); credentials unused for 45 days warned a week before, then
disabled."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.errors import PortalError
from provisioning.guardrails.jobs import guardrail_run_execute, guardrails_daily
from provisioning.guardrails.key_age import key_age_extend
from provisioning.guardrails.models import GuardrailNotice, GuardrailRun
from provisioning.guardrails.runs import guardrail_run_for
from provisioning.models import AccessKeyRecord
from tests.guardrails_strict import set_key_last_used, set_password_last_used
from tests.provisioning.guardrails.conftest import make_iam_user, signed_in

pytestmark = pytest.mark.django_db
Job = GuardrailRun.Job


def _run(job: str, label: str) -> GuardrailRun:
    run, _ = guardrail_run_for(job=job, period=f"test-{label}")
    assert guardrail_run_execute(run_id=run.pk) == "done"
    run.refresh_from_db()
    return run


def _key_status(user_name: str) -> str:
    (key,) = gateway.call("ListAccessKeys", UserName=user_name)["AccessKeyMetadata"]
    return key["Status"]


def _later(days: int) -> Any:
    return time_machine.travel(timezone.now() + dt.timedelta(days=days, hours=1), tick=False)


def _subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


def test_a_key_is_reminded_at_75_and_85_days_once_each_then_deactivated_at_90(
    employee: Any, employee_account: Any
) -> None:
    with _later(74):
        _run(Job.KEY_AGE, "day-74")
    assert mail.outbox == []
    with _later(76):
        _run(Job.KEY_AGE, "day-76")
        _run(Job.KEY_AGE, "day-76-again")
    assert _subjects() == ["Rotate your AWS access key: it is 76 days old"]
    with _later(86):
        _run(Job.KEY_AGE, "day-86")
    assert _subjects()[-1] == "Rotate your AWS access key: it is 86 days old"
    assert _key_status("employee") == "Active"

    with _later(90):
        run = _run(Job.KEY_AGE, "day-90")

    assert _key_status("employee") == "Inactive"
    assert "was deactivated" in _subjects()[-1]
    assert mail.outbox[-1].to == [employee.email]
    assert run.summary == {"reminded": 0, "deactivated": 1}
    event = AuditEvent.objects.get(action="iam.access_key.deactivated")
    assert "older than 90 days" in event.data["reason"]
    assert len(mail.outbox) == 3


def test_an_extension_moves_the_deactivation_once_and_only_once(
    employee: Any, employee_account: Any, security_admin: Any
) -> None:
    record = AccessKeyRecord.objects.get(iam_account=employee_account)
    with _later(80):
        key_age_extend(
            actor=security_admin,
            access_key_record_id=record.pk,
            reason="The billing batch moves to a role next month.",
        )
        with pytest.raises(PortalError, match="already extended once"):
            key_age_extend(
                actor=security_admin,
                access_key_record_id=record.pk,
                reason="And once more, please, for the batch.",
            )
    with _later(91):
        _run(Job.KEY_AGE, "day-91")
    assert _key_status("employee") == "Active"
    with _later(121):
        _run(Job.KEY_AGE, "day-121")
    assert _key_status("employee") == "Inactive"
    assert AuditEvent.objects.filter(action="guardrail.key_age.extended").count() == 1


def test_only_another_security_admin_extends_a_key(employee: Any, employee_account: Any) -> None:
    record = AccessKeyRecord.objects.get(iam_account=employee_account)

    with pytest.raises(PortalError, match="Only security admins"):
        key_age_extend(
            actor=employee, access_key_record_id=record.pk, reason="I need it a while longer."
        )


def test_an_unused_key_is_warned_a_week_before_then_deactivated_at_45_days(
    employee: Any, employee_account: Any
) -> None:
    with _later(37):
        _run(Job.UNUSED, "day-37")
    assert mail.outbox == []
    with _later(39):
        _run(Job.UNUSED, "day-39")
        _run(Job.UNUSED, "day-39-again")
    assert _subjects() == [
        f"Your AWS access key {AccessKeyRecord.objects.get().access_key_id} has not been used "
        "for 39 days"
    ]
    with _later(45):
        _run(Job.UNUSED, "day-45")

    assert _key_status("employee") == "Inactive"
    assert "was deactivated" in _subjects()[-1]
    assert GuardrailNotice.objects.filter(kind="unused_disabled").count() == 1


def test_an_unused_console_password_is_removed_and_a_used_one_kept(
    strict: Any, employee: Any, manager: Any
) -> None:
    idle = make_iam_user(employee, "idle-console", key=False, console=True)
    busy = make_iam_user(manager, "busy-console", key=False, console=True)
    set_password_last_used("busy-console", dt.datetime.now(dt.UTC) + dt.timedelta(days=30))

    with _later(39):
        _run(Job.UNUSED, "day-39")
    assert _subjects() == ["Your AWS console password has not been used for 39 days"]
    with _later(46):
        _run(Job.UNUSED, "day-46")

    assert not gateway.login_profile_exists(idle.user_name)
    assert gateway.login_profile_exists(busy.user_name)
    assert _subjects()[-1] == "Your AWS console password was disabled"
    assert mail.outbox[-1].to == [employee.email]
    assert AuditEvent.objects.filter(
        action="iam.login_profile.deleted", target=f"iam_account:{idle.pk}"
    ).exists()
    # The report was read only once it was ready: the strict layer answered "in progress" first.
    assert ("GetCredentialReport", "ReportInProgress") in strict.refused


def test_the_daily_beat_makes_todays_runs_once(employee_account: Any) -> None:
    first = guardrails_daily()
    second = guardrails_daily()

    assert len(first) == 4 and second == []
    assert set(GuardrailRun.objects.values_list("status", flat=True)) == {"done"}


def test_the_daily_run_records_which_credentials_exist_and_their_last_use_for_my_access(
    strict: Any, employee: Any
) -> None:
    account = make_iam_user(employee, "erin-usage", key=True, console=True)
    record = AccessKeyRecord.objects.get(iam_account=account)
    used = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    set_password_last_used("erin-usage", used)
    set_key_last_used(record.access_key_id, used)
    client = signed_in(employee)
    before = client.get(reverse("my_access")).content.decode()
    assert "use not checked against AWS yet" in before

    _run(Job.UNUSED, "usage")

    account.refresh_from_db()
    record.refresh_from_db()
    assert account.console_password is True
    assert account.console_last_used_at is not None
    assert record.last_used_at is not None and record.active
    page = client.get(reverse("my_access")).content.decode()
    assert "Yes; last signed in" in page
    assert "(3 days ago)" in page
    assert f"<code>{record.access_key_id}</code> made" in page
    assert "last used" in page

    # The console password removed outside the portal: the next run says so.
    gateway.delete_login_profile("erin-usage")
    _run(Job.UNUSED, "usage-again")
    account.refresh_from_db()
    assert account.console_password is False
    assert "<dt>Console password</dt>\n    <dd>None</dd>" in (
        client.get(reverse("my_access")).content.decode()
    )
