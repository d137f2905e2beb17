"""The shared pace of mutating IAM calls (provisioning/aws/pacer.py), on real Redis."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import redis

from provisioning import aws
from provisioning.aws import pacer

BUCKET = "portal:aws-pacer:iam"


@pytest.fixture
def paced(settings: Any, redis_url: str) -> Any:
    redis.Redis.from_url(redis_url).delete(BUCKET)
    settings.AWS_IAM_MUTATING_RATE = 20
    settings.AWS_IAM_MUTATING_BURST = 1
    settings.AWS_PACER_MAX_WAIT_SECONDS = 30
    return settings


def test_mutating_calls_queue_at_the_rate_while_reads_pass(paced: Any) -> None:
    started = time.monotonic()
    for _ in range(11):
        pacer.take("iam", "CreateUser")
    paced_for = time.monotonic() - started
    started = time.monotonic()
    for _ in range(50):
        pacer.take("iam", "GetUser")
        pacer.take("sts", "GetCallerIdentity")
    # Ten waits of 1/20 s after the first token: at least half a second.
    assert paced_for >= 0.45
    assert time.monotonic() - started < 0.2


@pytest.mark.usefixtures("aws")
def test_a_bucket_booked_past_the_bound_defers_the_run_instead_of_waiting(
    paced: Any, redis_url: str
) -> None:
    paced.AWS_IAM_MUTATING_RATE = 1
    paced.AWS_PACER_MAX_WAIT_SECONDS = 0
    redis.Redis.from_url(redis_url).delete(BUCKET)  # what the aws fixture's setup booked
    pacer.take("iam", "CreateUser")
    with pytest.raises(aws.AwsError) as refused:
        aws.call("CreateUser", UserName="waits-too-long")
    assert refused.value.code == "PortalPacing"
    assert refused.value.transient


def test_without_redis_the_pacer_steps_aside_with_a_log_line(
    paced: Any, caplog: pytest.LogCaptureFixture
) -> None:
    paced.REDIS_URL = "redis://127.0.0.1:1/0"
    pacer._warned_at = -1000.0
    with caplog.at_level(logging.WARNING, logger="provisioning.aws.pacer"):
        waited = [pacer.take("iam", "CreateUser") for _ in range(5)]
    assert waited == [0.0] * 5
    assert "cannot reach Redis" in caplog.text
    assert len(caplog.records) == 1
