"""The teardown in a real worker process: SIGKILLed mid-teardown, it resumes after a restart.

The worker runs against a moto server under the strict IAM layer (PORTAL_STRICT_IAM=1), so a
resumed run that repeated or skipped a step in the wrong order would be refused as AWS would
refuse it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission

from accounts import roles
from audit.models import AuditEvent
from provisioning import aws, queue
from provisioning.models import Offboarding
from provisioning.offboarding.start import offboarding_start
from provisioning.offboarding.teardown import STEPS
from tests import strict_iam
from tests.factories import IamAccountFactory, UserFactory
from tests.throttle_proxy import ThrottleProxy
from tests.worker import purge_queue, read_outbox, real_broker, running_worker, wait_until

FINISHED = (Offboarding.Status.COMPLETED, Offboarding.Status.INCOMPLETE)


def _hr(email: str) -> Any:
    """An HR person. Transactional tests flush the database, and with it the role groups a data
    migration made (permissions come back), so the permission is granted directly."""
    person = UserFactory(email=email)
    app_label, codename = roles.OFFBOARD_PEOPLE.split(".")
    person.user_permissions.add(
        Permission.objects.get(codename=codename, content_type__app_label=app_label)
    )
    return person


def _leavers(*names: str) -> list[Any]:
    """A leaver per name, each with an IAM user of that name holding one of everything."""
    leavers = []
    for name in names:
        leaver = UserFactory(email=f"{name}@example.com")
        strict_iam.load_user(name, simulated=False)
        IamAccountFactory(owner=leaver, user_name=name)
        leavers.append(leaver)
    return leavers


def _both_completed(first: Offboarding, later: Offboarding) -> None:
    """Wait for both offboardings to finish; both completed, read back."""
    wait_until(lambda: Offboarding.objects.filter(status__in=FINISHED).count() == 2, timeout=120)
    first.refresh_from_db()
    later.refresh_from_db()
    assert first.status == later.status == Offboarding.Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_teardown_finishes_after_a_restart_with_a_correct_report(
    aws_server: str, redis_url: str, postgres_required: None, tmp_path: Any, settings: Any
) -> None:
    strict_iam.use_strict_iam(settings)
    hr = _hr("hr-kill@example.com")
    leaver = UserFactory(email="killed@example.com")
    strict_iam.load_user("killed.leaver", simulated=False)
    IamAccountFactory(owner=leaver, user_name="killed.leaver")
    outbox = tmp_path / "outbox"

    with running_worker(
        moto_url=aws_server,
        redis_url=redis_url,
        outbox=outbox,
        extra_env={
            "AWS_FAULT_INJECTION": "after:DeleteLoginProfile:sleep=30",
            "PORTAL_STRICT_IAM": "1",
        },
    ) as worker:
        offboarding = offboarding_start(actor=hr, person=leaver)
        worker.wait_for_log("sleeping 30s after DeleteLoginProfile")
        worker.kill()

        # AWS has lost the console password, but the worker died before recording it.
        offboarding.refresh_from_db()
        assert offboarding.status == Offboarding.Status.IN_PROGRESS
        assert offboarding.steps_done == []
        assert not aws.read_user("killed.leaver").login_profile

        worker.env["AWS_FAULT_INJECTION"] = ""
        worker.start()
        wait_until(
            lambda: Offboarding.objects.get(pk=offboarding.pk).status in FINISHED, timeout=120
        )
        # The report email leaves after the commit that finished the offboarding.
        wait_until(lambda: _report_sent(outbox), timeout=30)

    offboarding.refresh_from_db()
    assert offboarding.status == Offboarding.Status.COMPLETED, offboarding.failure_reason
    # Killed during the urgent cut (redelivered, then the full teardown: the one attempt).
    assert offboarding.attempts == 1
    assert offboarding.steps_done == [f"killed.leaver:{step}" for step in STEPS]
    assert not aws.read_user("killed.leaver").exists
    [entry] = offboarding.report["accounts"]
    # Found before the crash, so the resumed run still reports what was there.
    assert entry["kinds"]["login_profile"] == {"found": 1, "removed": 1, "remaining": 0}
    assert entry["kinds"]["access_keys"] == {"found": 2, "removed": 2, "remaining": 0}
    assert entry["kinds"]["mfa_devices"] == {"found": 1, "removed": 1, "remaining": 0}
    assert entry["kinds"]["groups"] == {"found": 2, "removed": 2, "remaining": 0}
    assert offboarding.report["remaining_total"] == 0
    rows = AuditEvent.objects.filter(target="iam_user:killed.leaver").order_by("id")
    assert [row.data["step"] for row in rows] == list(STEPS)
    assert rows.first().data["removed"] == []  # the crashed run had already removed it
    assert _report_sent(outbox)


def _report_sent(outbox: Any) -> bool:
    subjects = [message["Subject"] for message in read_outbox(outbox)]
    return any("killed@example.com" in subject and "completed" in subject for subject in subjects)


@pytest.mark.django_db(transaction=True)
def test_leavers_confirmed_together_all_lose_their_credentials_before_any_full_teardown(
    aws_server: str, redis_url: str, postgres_required: None, tmp_path: Any, settings: Any
) -> None:
    strict_iam.use_strict_iam(settings)
    hr = _hr("hr-together@example.com")
    leavers = _leavers(*(f"together.{n}" for n in range(3)))

    with running_worker(
        moto_url=aws_server,
        redis_url=redis_url,
        outbox=tmp_path / "outbox",
        extra_env={"PORTAL_STRICT_IAM": "1"},
    ):
        # One worker slot, three confirms queued before it takes the first.
        for leaver in leavers:
            offboarding_start(actor=hr, person=leaver)
        wait_until(
            lambda: Offboarding.objects.filter(status__in=FINISHED).count() == 3, timeout=120
        )

    offboardings = list(Offboarding.objects.order_by("pk"))
    assert [o.status for o in offboardings] == [Offboarding.Status.COMPLETED] * 3
    last_cut = max(o.access_cut_at for o in offboardings)
    assert last_cut < min(o.finished_at for o in offboardings)


@pytest.mark.django_db(transaction=True)
def test_a_cut_confirmed_after_a_queued_full_teardown_still_runs_before_it(
    aws_server: str, redis_url: str, postgres_required: None, tmp_path: Any, settings: Any
) -> None:
    """The rest of a teardown waits behind every cut in the queue, whenever the cut came."""
    strict_iam.use_strict_iam(settings)
    hr = _hr("hr-priority@example.com")
    leavers = _leavers("queued.first", "confirmed.later")
    purge_queue()
    with real_broker():
        first = offboarding_start(actor=hr, person=leavers[0], enqueue=False)
        queue.teardown_now(first.pk)  # its full teardown is in the queue ...
        later = offboarding_start(actor=hr, person=leavers[1])  # ... before this cut

    with running_worker(
        moto_url=aws_server,
        redis_url=redis_url,
        outbox=tmp_path / "outbox",
        extra_env={"PORTAL_STRICT_IAM": "1"},
        purge=False,
    ):
        _both_completed(first, later)
    assert later.access_cut_at < first.access_cut_at


@pytest.mark.django_db(transaction=True)
def test_a_cut_confirmed_while_a_full_teardown_runs_does_not_wait_for_its_slot(
    aws_server: str, redis_url: str, postgres_required: None, tmp_path: Any, settings: Any
) -> None:
    """Cuts have a queue of their own, which a worker started with `-Q urgent` reads alone.
    With IAM far away (a proxy holds every call 0.15 s), a leaver's full teardown holds the
    main worker's one slot for seconds; a leaver confirmed meanwhile is cut by the urgent
    worker at once, while that teardown still runs."""
    strict_iam.use_strict_iam(settings)
    hr = _hr("hr-urgent@example.com")
    leavers = _leavers("torn.down", "cut.meanwhile")
    options: dict[str, Any] = {
        "redis_url": redis_url,
        "outbox": tmp_path / "outbox",
        "extra_env": {"PORTAL_STRICT_IAM": "1"},
    }

    with (
        ThrottleProxy(aws_server, rate=1e9, burst=1e9, latency=0.15) as far,
        running_worker(moto_url=far.url, concurrency=1, **options),
        running_worker(moto_url=far.url, queues="urgent", purge=False, **options),
    ):
        first = offboarding_start(actor=hr, person=leavers[0])
        # Cut, and its full teardown under way in the main worker's one slot.
        wait_until(
            lambda: len(Offboarding.objects.get(pk=first.pk).steps_done) > 2,
            timeout=60,
            interval=0.02,
        )
        later = offboarding_start(actor=hr, person=leavers[1])
        _both_completed(first, later)
    assert later.access_cut_at < first.finished_at
    assert later.finished_at > first.finished_at  # its own teardown waited for the slot
