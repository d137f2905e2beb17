"""Benchmark (not in `make test`; run with `make bench`): how long from HR's confirming POST
until the leaver's console password is deleted and their access keys are inactive in AWS.

50 offboardings, one after another, each of a person with one IAM user holding a console
password, two access keys, an enabled virtual MFA device, a group and an inline policy; a real
Celery worker on Redis; a local moto server. The time is the worker's `access_cut_at` (recorded
once both are done in AWS) minus the moment the POST began. Goal: p95 under 2 s.

A second, informative run sends the 50 POSTs back to back, to show the queueing a burst sees.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts import roles
from provisioning import aws
from provisioning.models import IamAccount, Offboarding
from tests.factories import UserFactory
from tests.worker import running_worker, wait_until

RUNS = 50
GOAL_P95_SECONDS = 2.0
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


def _loaded_leaver(index: int, group: str) -> Any:
    person = UserFactory(email=f"bench-leaver-{index}@example.com")
    name = f"bench.leaver.{index}"
    aws.call("CreateUser", UserName=name)
    aws.call("CreateLoginProfile", UserName=name, Password="Initial-pass-12345!")
    for _ in range(2):
        aws.call("CreateAccessKey", UserName=name)
    serial = aws.call("CreateVirtualMFADevice", VirtualMFADeviceName=name)["VirtualMFADevice"][
        "SerialNumber"
    ]
    aws.call(
        "EnableMFADevice",
        UserName=name,
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    aws.call("AddUserToGroup", UserName=name, GroupName=group)
    aws.call(
        "PutUserPolicy",
        UserName=name,
        PolicyName="own-bucket",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"s3:*","Resource":"*"}]}',
    )
    IamAccount.objects.create(owner=person, user_name=name)
    return person


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _describe(label: str, values: list[float]) -> str:
    return (
        f"{label}: n={len(values)} p50={statistics.median(values):.3f}s "
        f"p95={_percentile(values, 0.95):.3f}s max={max(values):.3f}s"
    )


def _assert_cut_in_aws(person: Any) -> None:
    name = person.iam_accounts.get().user_name
    inventory = aws.read_user(name)
    assert not inventory.exists or (
        not inventory.login_profile
        and all(key.status == "Inactive" for key in inventory.access_keys)
    )


def hr_and_leavers(settings: Any, count: int) -> tuple[Any, list[Any]]:
    """An HR person and `count` loaded leavers (local moto, as the worker sees it)."""
    settings.AWS_IS_LOCAL_FAKE = True
    hr = _hr("bench-hr@example.com")
    aws.call("CreateGroup", GroupName="bench-developers")
    return hr, [_loaded_leaver(i, "bench-developers") for i in range(count)]


def _hr_and_leavers(settings: Any, count: int) -> tuple[Client, list[Any]]:
    """`hr_and_leavers`, HR signed in to a test client."""
    hr, people = hr_and_leavers(settings, count)
    client = Client()
    client.force_login(hr)
    return client, people


def _offboard_one(client: Client, person: Any) -> tuple[float, float]:
    """HR's confirm, then seconds until the cut and until the teardown finished (the next
    confirm waits for it: one at a time), the cut checked in AWS."""
    began = datetime.now(UTC)
    response = client.post(reverse("offboard_person", args=[person.pk]), {"mode": "delete"})
    assert response.status_code == 302
    offboarding = Offboarding.objects.get(person=person)
    cut = wait_until(
        lambda: Offboarding.objects.get(pk=offboarding.pk).access_cut_at,
        timeout=60,
        interval=0.005,
    )
    _assert_cut_in_aws(person)
    done = wait_until(
        lambda: (
            Offboarding.objects.filter(pk=offboarding.pk, status__in=FINISHED)
            .values_list("finished_at", flat=True)
            .first()
        ),
        timeout=60,
        interval=0.01,
    )
    return (cut - began).total_seconds(), (done - began).total_seconds()


@pytest.mark.django_db(transaction=True)
def test_bench_confirm_to_console_and_keys_cut(
    aws_server: str, redis_url: str, postgres_required: None, tmp_path: Any, settings: Any
) -> None:
    client, people = _hr_and_leavers(settings, 2 * RUNS)

    with running_worker(moto_url=aws_server, redis_url=redis_url, outbox=tmp_path / "out") as _:
        sequential, finished = [], []
        for person in people[:RUNS]:
            cut, done = _offboard_one(client, person)
            sequential.append(cut)
            finished.append(done)
        assert not Offboarding.objects.exclude(status=Offboarding.Status.COMPLETED).exists()

        burst_began: dict[int, datetime] = {}
        burst_start = time.monotonic()
        for person in people[RUNS:]:
            burst_began[person.pk] = datetime.now(UTC)
            client.post(reverse("offboard_person", args=[person.pk]), {"mode": "delete"})
        wait_until(
            lambda: Offboarding.objects.filter(status__in=FINISHED).count() == 2 * RUNS,
            timeout=600,
            interval=0.1,
        )
        burst_total = time.monotonic() - burst_start
        burst = [
            (o.access_cut_at - burst_began[o.person_id]).total_seconds()
            for o in Offboarding.objects.filter(person__in=people[RUNS:])
        ]

    print()
    print(_describe("confirm -> console and keys cut (one at a time)", sequential))
    print(_describe("confirm -> verified and completed (one at a time)", finished))
    print(
        _describe(f"burst of {RUNS} POSTs, confirm -> cut (1 worker process)", burst)
        + f" all {RUNS} completed in {burst_total:.1f}s"
    )
    assert _percentile(sequential, 0.95) < GOAL_P95_SECONDS


FAR_RUNS = 20


@pytest.mark.django_db(transaction=True)
def test_bench_confirm_to_cut_with_iam_far_away(
    aws_server: str, redis_url: str, postgres_required: None, tmp_path: Any, settings: Any
) -> None:
    """The same cut with each IAM call held FAR_LATENCY by a proxy, as an IAM endpoint
    far from the worker answers: the cut's round trips, not our CPU, set the time. Printed
    beside what its three round trips take, and its five calls one after another would."""
    from tests.throttle_proxy import FAR_LATENCY, far_iam

    client, people = _hr_and_leavers(settings, FAR_RUNS)
    with (
        far_iam(aws_server) as proxy,
        running_worker(moto_url=proxy.url, redis_url=redis_url, outbox=tmp_path / "out"),
    ):
        cuts = [_offboard_one(client, person)[0] for person in people]
    print()
    print(
        _describe(
            f"IAM {FAR_LATENCY * 1000:.0f} ms away, confirm -> console and keys cut "
            "(one at a time)",
            cuts,
        )
        + f"; the cut's three IAM round trips are {3 * FAR_LATENCY:.2f}s of it (its five "
        f"calls one after another would be {5 * FAR_LATENCY:.2f}s)"
    )
