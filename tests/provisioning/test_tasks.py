"""Every task is alike: limits from settings, none without them; the two that change AWS ack
late and are re-delivered if their worker dies; services reach them only through the queue."""

from __future__ import annotations

from typing import Any

import pytest
from amqp.exceptions import ChannelError
from django.conf import settings

from portal.celery import app
from provisioning import queue, tasks


def _our_tasks() -> dict[str, Any]:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith("provisioning.")}


def test_every_task_of_ours_has_a_soft_and_a_hard_time_limit() -> None:
    found = _our_tasks()
    assert set(found) >= {
        "provisioning.tasks.provision_access_request",
        "provisioning.tasks.teardown_offboarding",
        "provisioning.tasks.sweep_stuck_requests",
        "provisioning.tasks.sweep_stuck_offboardings",
        "provisioning.tasks.send_approval_reminders",
        "provisioning.tasks.rotate_access_key",
        "provisioning.tasks.run_guardrail",
        "provisioning.tasks.sweep_key_rotations",
        "provisioning.tasks.run_daily_guardrails",
        "provisioning.tasks.end_grants",
        "provisioning.tasks.end_due_grants",
        "provisioning.tasks.start_access_review",
        "provisioning.tasks.apply_access_review_deadlines",
    }
    for name, task in found.items():
        assert task.soft_time_limit and task.time_limit, name
        assert task.soft_time_limit < task.time_limit, name


def test_the_work_that_changes_aws_takes_its_limits_and_retries_from_settings() -> None:
    provision = tasks.provision_access_request
    assert provision.time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert provision.max_retries == settings.PROVISIONING_MAX_RETRIES
    teardown = tasks.teardown_offboarding
    assert teardown.soft_time_limit == settings.OFFBOARDING_SOFT_TIME_LIMIT
    assert teardown.time_limit == settings.OFFBOARDING_TIME_LIMIT
    assert teardown.max_retries == settings.OFFBOARDING_MAX_RETRIES
    removal = tasks.end_grants
    assert removal.time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert removal.max_retries == settings.LIFECYCLE_MAX_RETRIES
    for task in (provision, teardown, removal, tasks.rotate_access_key, tasks.run_guardrail):
        assert task.acks_late and task.reject_on_worker_lost
    assert tasks.rotate_access_key.max_retries == settings.GUARDRAILS_MAX_RETRIES
    assert tasks.run_guardrail.max_retries == settings.GUARDRAILS_MAX_RETRIES


@pytest.mark.parametrize("retries", [0, 3, 10])
def test_backoff_never_exceeds_its_cap(retries: int) -> None:
    waits = {tasks._backoff(retries, base=3, maximum=60) for _ in range(50)}
    assert all(0 <= wait <= 60 for wait in waits)


def test_the_queue_hands_work_to_the_registered_tasks() -> None:
    assert queue._job(queue.PROVISION) is tasks.provision_access_request
    assert queue._job(queue.TEARDOWN) is tasks.teardown_offboarding
    assert queue._job(queue.ROTATE_KEY) is tasks.rotate_access_key
    assert queue._job(queue.GUARDRAIL_RUN) is tasks.run_guardrail
    assert queue._job(queue.END_GRANTS) is tasks.end_grants
    assert queue._job(queue.REVIEW_START) is tasks.start_access_review


def test_an_unregistered_job_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"provisioning\.tasks was never imported"):
        queue._job("nothing-by-this-name")


def _waiting(name: str) -> int:
    """Messages waiting in the broker's queue `name` (none if it was never declared)."""
    with app.connection_for_write() as connection:
        try:
            declared = connection.default_channel.queue_declare(queue=name, passive=True)
        except ChannelError:
            return 0
        return int(declared.message_count)


def test_each_task_is_delivered_to_one_queue_and_cuts_to_the_urgent_one(redis_url: str) -> None:
    """Cuts go to the urgent queue, everything else (a teardown's rest among them) to the
    default one, each message once, as the broker holds them."""
    from tests.worker import purge_queue, real_broker

    urgent, default = settings.URGENT_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE
    purge_queue()
    try:
        with real_broker():
            queue.provision_now(1)
            queue.teardown_now(2)
            tasks.cut_offboarding_access.delay(3)
        assert (_waiting(urgent), _waiting(default)) == (1, 2)
    finally:
        purge_queue()
