"""Approvers who chose one email a day: the digest lists what waits, once a day, and nothing
arrives for each request in between (nor reminders)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApprovalEmails
from audit.models import AuditEvent
from provisioning.models import AccessRequest
from provisioning.requests.digest import approval_digests_send
from provisioning.requests.reminders import approval_reminders_send
from provisioning.requests.submit import access_request_submit
from provisioning.tasks import send_approval_digests
from tests.factories import RoleGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

WHY = "I build the data pipeline and need to deploy it."


def _at(hour: int, *, days: int = 0) -> datetime:
    local = timezone.localtime().replace(hour=hour, minute=5, second=0, microsecond=0)
    return local + timedelta(days=days)


def _submit(person: Any, role_group: Any) -> AccessRequest:
    [created] = access_request_submit(
        requester=person, role_group=role_group, access_type="console", justification=WHY
    )
    return created


@pytest.fixture
def digest_manager(manager: Any) -> Any:
    manager.approval_emails = ApprovalEmails.DAILY
    manager.save(update_fields=["approval_emails"])
    return manager


def test_each_request_emails_the_approver_by_default(
    employee: Any, manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert manager.approval_emails == ApprovalEmails.EACH
    with django_capture_on_commit_callbacks(execute=True):
        _submit(employee, RoleGroupFactory())
    assert [m.to for m in mail.outbox] == [[manager.email]]


def test_a_digest_approver_gets_no_email_per_request_and_no_reminder(
    employee: Any, digest_manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _submit(employee, RoleGroupFactory())
    assert mail.outbox == []
    approval_reminders_send(now=timezone.now() + timedelta(days=2))
    assert mail.outbox == []


def test_the_digest_lists_every_waiting_request_once_a_day_from_its_hour(
    employee: Any, digest_manager: Any
) -> None:
    developers = _submit(employee, RoleGroupFactory(name="Digest developers"))
    analysts = _submit(employee, RoleGroupFactory(name="Digest analysts"))

    assert approval_digests_send(now=_at(settings.APPROVAL_DIGEST_HOUR - 1)) == []
    assert approval_digests_send(now=_at(settings.APPROVAL_DIGEST_HOUR)) == [digest_manager.email]
    [digest] = mail.outbox
    assert digest.to == [digest_manager.email]
    assert digest.subject.startswith("2 access requests wait for your decision")
    for access_request, name in ((developers, "Digest developers"), (analysts, "Digest analysts")):
        assert f"#{access_request.pk} {employee.get_full_name()}" in digest.body
        assert name in digest.body
    assert reverse("approvals") in digest.body
    assert reverse("preferences") in digest.body

    # Later the same day: nothing more. The next day: again, while they still wait.
    assert approval_digests_send(now=_at(settings.APPROVAL_DIGEST_HOUR + 5)) == []
    assert approval_digests_send(now=_at(settings.APPROVAL_DIGEST_HOUR, days=1)) == [
        digest_manager.email
    ]
    assert len(mail.outbox) == 2


def test_no_digest_when_nothing_waits_and_none_for_those_who_want_each_email(
    employee: Any, manager: Any, digest_manager: Any
) -> None:
    assert approval_digests_send(now=_at(settings.APPROVAL_DIGEST_HOUR)) == []
    other_manager = UserFactory()
    UserFactory(manager=other_manager)
    assert approval_digests_send(now=_at(settings.APPROVAL_DIGEST_HOUR)) == []
    assert mail.outbox == []


def test_the_digest_task_runs_on_beat(employee: Any, digest_manager: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["send-approval-digests"]
    assert entry["task"] == send_approval_digests.name
    _submit(employee, RoleGroupFactory())
    with time_machine.travel(_at(settings.APPROVAL_DIGEST_HOUR + 1), tick=False):
        assert send_approval_digests.delay().get() == 1
    assert len(mail.outbox) == 1


def test_a_person_chooses_the_digest_on_their_preferences_page(
    client: Client, manager: Any
) -> None:
    client.force_login(manager)
    page = client.get(reverse("preferences"))
    assert page.status_code == 200
    assert "One digest a day" in page.content.decode()

    response = client.post(reverse("preferences"), {"approval_emails": ApprovalEmails.DAILY})
    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.approval_emails == ApprovalEmails.DAILY
    event = AuditEvent.objects.get(action="person.preferences_updated")
    assert event.actor_id == manager.pk
    assert event.data == {"approval_emails": [ApprovalEmails.EACH, ApprovalEmails.DAILY]}


def test_a_bad_preference_is_refused_with_a_message(client: Client, manager: Any) -> None:
    client.force_login(manager)
    response = client.post(reverse("preferences"), {"approval_emails": "hourly"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    manager.refresh_from_db()
    assert manager.approval_emails == ApprovalEmails.EACH
    assert not AuditEvent.objects.filter(action="person.preferences_updated").exists()
