"""Provisioning at AWS's limit: real workers behind a proxy that throttles as IAM does.

The proxy (tests/throttle_proxy.py) answers `Throttling` past N mutating calls per second;
the workers share one pace through Redis (provisioning/aws/pacer.py). What must hold: every
request ends active, none failed, nothing was done twice, and the pace kept the workers from
spending their retries against each other."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest
import redis

from provisioning.models import AccessRequest
from provisioning.tasks import provision_access_request
from tests.factories import RoleGroupFactory, UserFactory
from tests.throttle_proxy import ThrottleProxy
from tests.worker import running_worker, wait_until

Status = AccessRequest.Status
LIMIT = 10
REQUESTS = 16
ONBOARDING_CALLS = ("CreateUser", "AddUserToGroup", "CreateLoginProfile", "CreateAccessKey")


def _iam(url: str, **config: Any) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=url,
        region_name="us-east-1",
        config=botocore.config.Config(**config),
    )


def test_the_proxy_refuses_a_burst_past_its_rate_with_aws_throttling_error(
    aws_server: str,
) -> None:
    with ThrottleProxy(aws_server, rate=LIMIT) as proxy:
        iam = _iam(proxy.url, retries={"mode": "standard", "total_max_attempts": 1})
        codes = []
        for n in range(LIMIT * 3):
            try:
                iam.create_user(UserName=f"burst-{n}")
                codes.append("ok")
            except botocore.exceptions.ClientError as error:
                codes.append(error.response["Error"]["Code"])
        iam.list_users()

    assert set(codes) == {"ok", "Throttling"}
    assert proxy.throttled == codes.count("Throttling")
    # Reads are never throttled, and only what passed reached moto.
    assert proxy.passed_reads == 1
    assert len(_iam(aws_server).list_users()["Users"]) == codes.count("ok")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_two_workers_at_the_limit_provision_every_request_without_burning_retries(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    redis.Redis.from_url(redis_url).delete("portal:aws-pacer:iam")
    role_group = RoleGroupFactory(iam_group_name="throttled-developers", managed_policy_arns=[])
    _iam(aws_server).create_group(GroupName=role_group.iam_group_name)
    requests = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=person,
            role_group=role_group,
            access_type=AccessRequest.AccessType.BOTH,
            justification="Onboarding day: console and an access key.",
            status=Status.APPROVED,
            iam_user_name=f"throttled-{person.pk}",
        )
        for person in UserFactory.create_batch(REQUESTS)
    )
    ids = [r.pk for r in requests]

    # Little burst allowance, as at a limit already being leaned on: only paced calls fit.
    with ThrottleProxy(aws_server, rate=LIMIT, burst=3) as proxy:
        options: dict[str, Any] = {
            "moto_url": proxy.url,
            "redis_url": redis_url,
            "outbox": tmp_path / "outbox",
            "visibility_timeout": 600,
            "extra_env": {"AWS_IAM_MUTATING_RATE": os.environ.get("TEST_PACER_RATE", str(LIMIT))},
        }
        with running_worker(**options), running_worker(**options):
            for pk in ids:
                provision_access_request.delay(pk)
            wait_until(
                lambda: (
                    not AccessRequest.objects.filter(
                        pk__in=ids, status__in=[Status.APPROVED, Status.PROVISIONING]
                    ).exists()
                ),
                timeout=60,
                interval=0.2,
            )

    statuses = list(AccessRequest.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == [Status.ACTIVE] * REQUESTS
    # Each IAM effect reached AWS exactly once: no user, membership or key made twice.
    onboarding = {name: proxy.operations.get(name) for name in ONBOARDING_CALLS}
    assert onboarding == dict.fromkeys(ONBOARDING_CALLS, REQUESTS)
    # Paced, the workers never lean on the limit: the odd throttle at most (calls delayed on
    # the way can still arrive bunched; 0 in every run so far). Unpaced, botocore's adaptive
    # mode absorbs the throttles too, but only after meeting the limit (9 times in a run).
    assert proxy.throttled <= 3
    assert set(AccessRequest.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
