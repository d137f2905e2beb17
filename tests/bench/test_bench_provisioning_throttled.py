"""Benchmark (`make bench`, not `make test`): an onboarding day at AWS's limit.

500 approved requests, 4 real worker processes, and a proxy in front of the moto server that
answers IAM's `Throttling` past N mutating calls per second (tests/throttle_proxy.py; N = 10,
or BENCH_IAM_LIMIT). The workers pace themselves through the shared Redis bucket
(AWS_IAM_MUTATING_RATE = N) with botocore's adaptive retries behind it.

Printed beside their anchors: the mutating calls per second sustained / N (goal >= 0.95), failed
requests (goal 0), active requests (goal all), IAM calls per user (goal 5), and the retries
spent (the throttles the proxy answered, which botocore retried, and Celery retries)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from django.db.models import Sum

from audit.models import AuditEvent
from provisioning.models import AccessRequest
from provisioning.tasks import provision_access_request
from tests.factories import RoleGroupFactory, UserFactory
from tests.throttle_proxy import ThrottleProxy
from tests.worker import running_worker, wait_until

REQUESTS = int(os.environ.get("BENCH_THROTTLED_REQUESTS", "500"))
WORKERS = 4
LIMIT = int(os.environ.get("BENCH_IAM_LIMIT", "10"))
GROUP = "bench-throttled"
Status = AccessRequest.Status


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
@pytest.mark.timeout(1800)
def test_bench_500_requests_with_4_workers_at_awss_limit(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    redis.Redis.from_url(redis_url).delete("portal:aws-pacer:iam")
    boto3.client("iam", endpoint_url=aws_server, region_name="us-east-1").create_group(
        GroupName=GROUP
    )
    role_group = RoleGroupFactory(iam_group_name=GROUP, managed_policy_arns=[])
    requests = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=person,
            role_group=role_group,
            access_type=AccessRequest.AccessType.BOTH,
            justification="Onboarding day: console and an access key.",
            status=Status.APPROVED,
            iam_user_name=f"day-{person.pk}",
        )
        for person in UserFactory.create_batch(REQUESTS)
    )
    ids = [r.pk for r in requests]
    with ThrottleProxy(aws_server, rate=LIMIT) as proxy:
        options: dict[str, Any] = {
            "moto_url": proxy.url,
            "redis_url": redis_url,
            "outbox": tmp_path / "outbox",
            "visibility_timeout": 3600,
            "extra_env": {"AWS_IAM_MUTATING_RATE": str(LIMIT)},
        }
        with (
            running_worker(**options),
            running_worker(**options),
            running_worker(**options),
            running_worker(**options),
        ):
            proxy.reset_counts()
            started = time.perf_counter()
            for pk in ids:
                provision_access_request.delay(pk)
            wait_until(
                lambda: (
                    not AccessRequest.objects.filter(
                        pk__in=ids, status__in=[Status.APPROVED, Status.PROVISIONING]
                    ).exists()
                ),
                timeout=REQUESTS * 5 / LIMIT + 120,
                interval=0.2,
            )
            elapsed = time.perf_counter() - started

    active = AccessRequest.objects.filter(pk__in=ids, status=Status.ACTIVE).count()
    failed = AccessRequest.objects.filter(pk__in=ids, status=Status.FAILED).count()
    attempts = AccessRequest.objects.filter(pk__in=ids).aggregate(n=Sum("attempts"))["n"]
    calls = sum(
        len(event.data.get("aws_request_ids", []))
        for event in AuditEvent.objects.filter(target__in=[f"access_request:{pk}" for pk in ids])
    )
    sustained = proxy.sustained_rate()
    print(
        f"\n[bench] {REQUESTS} requests, {WORKERS} worker processes, AWS limit N = {LIMIT} "
        f"mutating calls/s: {elapsed:.1f}s"
        f"\n[bench] sustained {sustained:.2f} mutating calls/s -> achieved/limit "
        f"{sustained / LIMIT:.3f} (goal >= 0.95); over the whole run "
        f"{proxy.passed_mutating / elapsed:.2f}/s -> {proxy.passed_mutating / elapsed / LIMIT:.3f}"
        f"\n[bench] active {active} (goal {REQUESTS}), failed {failed} (goal 0)"
        f"\n[bench] IAM calls per user {calls / REQUESTS:.2f} (goal 5); busiest second "
        f"{proxy.busiest_second()} calls (limit {LIMIT})"
        f"\n[bench] retries spent: {proxy.throttled} throttled calls retried by botocore "
        f"({proxy.throttled / max(1, proxy.passed_mutating) * 100:.1f}% of mutating calls), "
        f"{attempts - REQUESTS} Celery retries of a run"
    )
    assert active == REQUESTS
