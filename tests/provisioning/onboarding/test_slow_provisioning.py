"""Provisioning taking longer than a minute: the requester's page says so, the security admins
are emailed once per request (whatever the number of beat runs), and the operations page lists
it straight away (with a retry only once it is stuck)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.models import AccessRequest
from provisioning.onboarding.slow import slow_provisioning_notify
from provisioning.tasks import notify_slow_provisioning
from tests.factories import AccessRequestFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = AccessRequest.Status


def _approved(person: Any, *, seconds_ago: int, status: str = Status.APPROVED) -> AccessRequest:
    access_request = AccessRequestFactory(requester=person, status=status)
    AccessRequest.objects.filter(pk=access_request.pk).update(
        decided_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    return access_request


def test_security_admins_are_told_once_of_each_request_slower_than_a_minute(
    employee: Any, security_admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    slow = settings.PROVISIONING_SLOW_SECONDS
    late = _approved(employee, seconds_ago=slow + 10)
    later = _approved(UserFactory(), seconds_ago=slow + 30, status=Status.PROVISIONING)
    _approved(UserFactory(), seconds_ago=slow - 20)  # not slow yet
    _approved(UserFactory(), seconds_ago=slow + 30, status=Status.ACTIVE)  # done

    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(slow_provisioning_notify()) == sorted([late.pk, later.pk])
    [message] = mail.outbox
    assert message.to == [security_admin.email]
    assert message.subject == "Provisioning is taking longer than usual: 2 requests"
    assert f"#{late.pk} Erin Employee" in message.body
    assert reverse("operations") in message.body
    assert set(
        AuditEvent.objects.filter(action="request.provisioning_slow").values_list(
            "target", flat=True
        )
    ) == {late.audit_target, later.audit_target}

    # Beat runs again (every PROVISIONING_SLOW_CHECK_SECONDS): nobody is told twice.
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_slow_provisioning.delay().get() == 0
    assert len(mail.outbox) == 1
    late.refresh_from_db()
    assert late.slow_notified_at is not None


def test_the_beat_checks_for_slow_provisioning_well_within_a_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["notify-slow-provisioning"]
    assert entry["task"] == notify_slow_provisioning.name
    assert entry["schedule"] <= 30
    assert settings.PROVISIONING_SLOW_SECONDS == 60


def test_the_operations_page_lists_a_slow_request_after_a_minute_without_a_retry_until_stuck(
    employee: Any, security_admin: Any
) -> None:
    client = Client()
    client.force_login(security_admin)
    fresh = _approved(employee, seconds_ago=20)
    page = client.get(reverse("operations")).content.decode()
    assert f"#{fresh.pk}" not in page

    AccessRequest.objects.filter(pk=fresh.pk).update(
        decided_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_SLOW_SECONDS + 1)
    )
    page = client.get(reverse("operations")).content.decode()
    assert f"#{fresh.pk}" in page
    assert "Slow: approved" in page
    assert "no worker has picked it up yet" in page
    assert reverse("operations_retry", args=[fresh.pk]) not in page

    # Untouched past PROVISIONING_STALE_SECONDS: stuck, and a retry is offered.
    AccessRequest.objects.filter(pk=fresh.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_STALE_SECONDS + 1)
    )
    page = client.get(reverse("operations")).content.decode()
    assert "Stuck: approved" in page
    assert reverse("operations_retry", args=[fresh.pk]) in page
