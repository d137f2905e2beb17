"""Cutting a leaver's access takes as few IAM round trips as the cut allows. With IAM far
away (each call held 0.2 s by a proxy in front of the moto server), the two reads the cut
needs go at the same time, then the console password is deleted, then every access key is
made inactive at the same time: three round trips, where one call after another made five."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from provisioning import aws
from provisioning.models import Offboarding
from provisioning.offboarding.start import offboarding_start
from provisioning.offboarding.teardown import offboarding_teardown
from tests.factories import IamAccountFactory, UserFactory
from tests.throttle_proxy import ThrottleProxy

LATENCY = 0.2


def _span(spans: list[tuple[str, float, float]], action: str) -> tuple[float, float]:
    [found] = [(start, end) for name, start, end in spans if name == action]
    return found


def _together(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Both in flight at one moment (each is held LATENCY, so a real overlap is wide)."""
    return max(a[0], b[0]) + LATENCY / 2 < min(a[1], b[1])


@pytest.mark.django_db
def test_the_cut_reads_at_once_and_makes_every_key_inactive_at_once(
    aws_server: str, settings: Any, hr_person: Any
) -> None:
    leaver = UserFactory(email="far.leaver@example.com")
    aws.call("CreateUser", UserName="far.leaver")
    aws.call("CreateLoginProfile", UserName="far.leaver", Password="Initial-pass-12345!")
    keys = [
        aws.call("CreateAccessKey", UserName="far.leaver")["AccessKey"]["AccessKeyId"]
        for _ in range(2)
    ]
    IamAccountFactory(owner=leaver, user_name="far.leaver")
    offboarding = offboarding_start(actor=hr_person, person=leaver, enqueue=False)

    with ThrottleProxy(aws_server, rate=1e9, burst=1e9, latency=LATENCY) as proxy:
        settings.AWS_ENDPOINT_URL = proxy.url
        aws.reset_clients()
        offboarding_teardown(offboarding_id=offboarding.pk, cut_only=True)
        spans = list(proxy.spans)
    settings.AWS_ENDPOINT_URL = aws_server
    aws.reset_clients()

    # Cut in AWS, and recorded.
    assert not aws.login_profile_exists("far.leaver")
    listed = aws.call("ListAccessKeys", UserName="far.leaver")["AccessKeyMetadata"]
    assert {key["Status"] for key in listed} == {"Inactive"}
    offboarding.refresh_from_db()
    assert offboarding.access_cut_at is not None
    assert offboarding.report["cut"]["far.leaver"] == {"login_profile": 1}

    # Three round trips: the two reads together, the password, the two keys together.
    assert sorted(name for name, _, _ in spans) == sorted(
        ["GetLoginProfile", "ListAccessKeys", "DeleteLoginProfile", *["UpdateAccessKey"] * 2]
    )
    looks = _span(spans, "GetLoginProfile"), _span(spans, "ListAccessKeys")
    assert _together(*looks)
    password = _span(spans, "DeleteLoginProfile")
    assert password[0] >= max(end for _, end in looks)
    updates = [(start, end) for name, start, end in spans if name == "UpdateAccessKey"]
    assert _together(*updates)
    assert min(start for start, _ in updates) >= password[1]

    # The keys' row carries the listing's request id beside the two updates'.
    row = AuditEvent.objects.get(action="iam.access_keys.deactivated", target="iam_user:far.leaver")
    assert sorted(row.data["removed"]) == sorted(keys)
    assert len(row.data["aws_request_ids"]) == 3
    assert Offboarding.objects.get(pk=offboarding.pk).steps_done == [
        "far.leaver:login_profile",
        "far.leaver:access_keys_deactivated",
    ]


@pytest.mark.django_db
def test_calls_made_at_once_all_end_before_an_error_is_raised_and_record_their_ids(
    aws_server: str,
) -> None:
    ended: list[str] = []

    def slow_read() -> str:
        aws.call("ListUsers")
        ended.append("read")
        return "read"

    def refused() -> None:
        aws.call("GetUser", UserName="nobody.here")

    with aws.recording() as calls:
        assert aws.concurrently(slow_read, lambda: "plain") == ["read", "plain"]
    assert len(calls.request_ids) == 1  # the thread's call, recorded as the caller's

    ended.clear()
    with pytest.raises(aws.AwsError) as raised:
        aws.concurrently(refused, slow_read)
    assert raised.value.code == "NoSuchEntity"
    assert ended == ["read"]  # the other call had ended before the error was raised


def test_calls_made_at_once_keep_the_callers_short_attempt_profile(aws_server: str) -> None:
    """A person waits on quick calls (one short attempt): made at once, they stay quick."""
    from provisioning.aws.client import QUICK, STANDARD

    with aws.quick_calls():
        clients = aws.concurrently(aws.client, aws.client)
    assert clients == [aws.client(profile=QUICK)] * 2
    assert aws.concurrently(aws.client, aws.client) == [aws.client(profile=STANDARD)] * 2
