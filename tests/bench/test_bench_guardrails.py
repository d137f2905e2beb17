"""Benchmark (not in `make test`; run with `make bench`): the guardrails' daily runs over an
account of 200 portal IAM users (each with a console password and an access key) and 20 made
by hand, on a local moto server, in this process: seconds and IAM calls per user for the
drift scan, the compliance check, the key-age run and the unused-credentials run."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from provisioning import aws
from provisioning.guardrails.jobs import guardrail_run_execute
from provisioning.guardrails.models import DriftFinding, GuardrailRun
from provisioning.guardrails.runs import guardrail_run_for
from tests.factories import AccessKeyRecordFactory, IamAccountFactory, UserFactory

PORTAL_USERS = 200
HAND_MADE = 20


@pytest.mark.django_db
def test_bench_the_daily_guardrail_runs(aws_server: str) -> None:
    for index in range(PORTAL_USERS):
        name = f"bench.user.{index}"
        aws.call("CreateUser", UserName=name)
        aws.call("CreateLoginProfile", UserName=name, Password="Initial-pass-12345!")
        key_id, _ = aws.create_access_key(name)
        account = IamAccountFactory(owner=UserFactory(), user_name=name)
        AccessKeyRecordFactory(iam_account=account, access_key_id=key_id)
    for index in range(HAND_MADE):
        aws.call("CreateUser", UserName=f"bench.hand-made.{index}")
    calls: Counter[str] = Counter()
    aws.client().meta.events.register(
        "before-call.iam", lambda model=None, **_: calls.update([model.name])
    )
    users = PORTAL_USERS + HAND_MADE
    lines = []
    for job in (
        GuardrailRun.Job.DRIFT,
        GuardrailRun.Job.COMPLIANCE,
        GuardrailRun.Job.KEY_AGE,
        GuardrailRun.Job.UNUSED,
    ):
        calls.clear()
        run, _ = guardrail_run_for(job=job, period=f"bench-{job}")
        started = time.perf_counter()
        assert guardrail_run_execute(run_id=run.pk) == "done"
        seconds = time.perf_counter() - started
        total = sum(calls.values())
        lines.append(
            f"{job:<20} {seconds:6.2f} s  {total:5d} IAM calls  {total / users:4.1f} per user  "
            f"({1000 * seconds / users:5.1f} ms per user)"
        )
    assert DriftFinding.objects.filter(kind="unmanaged_user").count() == HAND_MADE
    print(f"\nGuardrail runs, {PORTAL_USERS} portal IAM users + {HAND_MADE} made by hand:")
    for line in lines:
        print("  " + line)
