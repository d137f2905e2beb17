"""The stuck-request sweeper: approved requests whose task was lost, and provisioning ones
whose worker died, are enqueued again; live ones are left alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.models import AccessRequest
from provisioning.onboarding.sweep import stuck_requests_sweep
from tests.provisioning.strict_onboarding import approved_request

pytestmark = pytest.mark.django_db

Status = AccessRequest.Status


def _aged(access_request: AccessRequest, status: str, seconds: int) -> AccessRequest:
    AccessRequest.objects.filter(pk=access_request.pk).update(
        status=status, updated_at=timezone.now() - timedelta(seconds=seconds)
    )
    return access_request


def test_stale_approved_and_abandoned_provisioning_requests_are_enqueued_again(
    employee: Any, manager: Any
) -> None:
    lost = _aged(
        approved_request(employee), Status.APPROVED, settings.PROVISIONING_STALE_SECONDS + 5
    )
    abandoned = _aged(
        approved_request(manager), Status.PROVISIONING, settings.PROVISIONING_LEASE_SECONDS + 5
    )
    enqueued: list[int] = []

    swept = stuck_requests_sweep(enqueue=enqueued.append)

    assert sorted(swept) == sorted(enqueued) == sorted([lost.pk, abandoned.pk])
    abandoned.refresh_from_db()
    # The dead run's claim is released, so the new run can take it.
    assert abandoned.status == Status.APPROVED
    assert AuditEvent.objects.filter(action="request.requeued").count() == 2


def test_requests_a_worker_may_still_be_on_are_left_alone(employee: Any, manager: Any) -> None:
    _aged(approved_request(employee), Status.APPROVED, 5)
    _aged(approved_request(manager), Status.PROVISIONING, settings.PROVISIONING_LEASE_SECONDS - 5)
    enqueued: list[int] = []

    assert stuck_requests_sweep(enqueue=enqueued.append) == []
    assert enqueued == []


def test_a_swept_request_is_not_enqueued_again_by_the_next_sweep(employee: Any) -> None:
    _aged(approved_request(employee), Status.APPROVED, settings.PROVISIONING_STALE_SECONDS + 5)
    enqueued: list[int] = []

    stuck_requests_sweep(enqueue=enqueued.append)
    stuck_requests_sweep(enqueue=enqueued.append)

    assert len(enqueued) == 1


def test_a_sweep_while_the_broker_is_down_stops_and_leaves_requests_for_later(
    employee: Any, manager: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for person in (employee, manager):
        _aged(approved_request(person), Status.APPROVED, settings.PROVISIONING_STALE_SECONDS + 5)

    def broker_down(pk: int) -> None:
        raise ConnectionRefusedError("broker down")

    assert stuck_requests_sweep(enqueue=broker_down) == []
    assert "next sweep retries" in caplog.text
    assert AccessRequest.objects.filter(status=Status.APPROVED).count() == 2


def test_the_sweeper_runs_every_minute_in_beat() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-stuck-requests"]

    assert entry["task"] == "provisioning.tasks.sweep_stuck_requests"
    assert entry["schedule"] <= 60


def test_a_broker_that_is_down_at_approval_is_logged_not_raised(
    employee: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import transaction

    from provisioning.tasks import provision_access_request

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(provision_access_request, "delay", broker_down)
    callbacks: list[Any] = []
    monkeypatch.setattr(transaction, "on_commit", lambda func, **_: callbacks.append(func))

    provision_access_request.delay_on_commit(42)
    (enqueue,) = callbacks
    enqueue()

    assert "sweeper will enqueue it later" in caplog.text
