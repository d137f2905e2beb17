from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts import roles
from provisioning.models import AccessRequest
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.reminders import approval_reminders_send
from provisioning.requests.submit import access_request_submit
from provisioning.tasks import send_approval_reminders
from tests.factories import RoleGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

WHY = "I build the data pipeline and need to deploy it."


def submitted(person, role_group, *, hours_ago):
    [created] = access_request_submit(
        requester=person, role_group=role_group, access_type="console", justification=WHY
    )
    AccessRequest.objects.filter(pk=created.pk).update(
        submitted_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return created


def test_the_reminder_hours_default_to_24():
    assert settings.APPROVAL_REMINDER_HOURS == 24


def test_the_reminder_task_runs_hourly_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["send-approval-reminders"]
    assert entry["task"] == send_approval_reminders.name
    assert entry["schedule"] == 3600.0


def test_a_manager_is_reminded_once_per_window_of_requests_pending_over_24_hours(employee, manager):
    old = submitted(employee, RoleGroupFactory(), hours_ago=25)
    submitted(employee, RoleGroupFactory(), hours_ago=2)

    assert send_approval_reminders.delay().get() == 1

    [message] = mail.outbox
    assert message.to == [manager.email]
    assert f"Request #{old.pk}" in message.body
    assert "1 access request waiting" in message.subject

    assert send_approval_reminders.delay().get() == 0
    assert len(mail.outbox) == 1

    # A day later, still undecided: reminded again.
    later = timezone.now() + timedelta(hours=25)
    assert approval_reminders_send(now=later) == 2
    assert len(mail.outbox) == 2


def test_decided_requests_are_not_reminded(employee, manager):
    old = submitted(employee, RoleGroupFactory(), hours_ago=30)
    AccessRequest.objects.filter(pk=old.pk).update(status=AccessRequest.Status.REJECTED)
    assert send_approval_reminders.delay().get() == 0
    assert mail.outbox == []


def test_security_admins_are_reminded_of_second_approvals_but_not_the_first_approver(
    employee, manager, security_admin
):
    second = UserFactory(manager=security_admin)
    sensitive = RoleGroupFactory(sensitive=True)
    waiting = submitted(second, sensitive, hours_ago=30)
    access_request_approve(access_request_id=waiting.pk, actor=security_admin)
    other_admin = UserFactory(email="sec2@example.com", roles=[roles.SECURITY_ADMINS])
    mail.outbox.clear()

    assert send_approval_reminders.delay().get() == 1

    [message] = mail.outbox
    assert message.to == [other_admin.email]
    assert "(second approval)" in message.body
