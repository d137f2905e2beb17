"""The AWS boundary itself: one way to build a client, hooks on every client (the quick one
too), seams that exist only under test settings, and errors that leave as AwsError."""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from provisioning import aws as gateway


def test_the_quick_client_carries_the_same_hooks_as_the_standard_one(aws: None) -> None:
    # Request ids are recorded through a hook: a quick call must record its id too.
    with gateway.recording() as calls:
        gateway.whoami(quick=True)
    assert len(calls.request_ids) == 1
    quick = gateway.client("sts", profile="quick")
    standard = gateway.client("sts", profile="standard")
    assert quick is not standard
    assert quick.meta.config.retries["total_max_attempts"] == 1


def test_fault_injection_reaches_the_quick_client(aws: None, settings: Any) -> None:
    settings.AWS_FAULT_INJECTION = "before:GetCallerIdentity:error=AccessDenied"
    gateway.reset_clients()
    with pytest.raises(gateway.AwsError) as refused:
        gateway.whoami(quick=True)
    assert refused.value.code == "AccessDenied"


def test_an_unreachable_endpoint_fails_fast_as_a_transient_aws_error(settings: Any) -> None:
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    gateway.reset_clients()
    started = time.monotonic()
    with pytest.raises(gateway.AwsError) as refused:
        gateway.whoami(quick=True)
    assert refused.value.transient
    assert time.monotonic() - started < 5
    gateway.reset_clients()


def test_the_seams_refuse_to_load_outside_the_test_settings(settings: Any) -> None:
    settings.AWS_TEST_SEAMS = False
    saved = sys.modules.pop("provisioning.aws.seams")
    try:
        with pytest.raises(ImproperlyConfigured, match="test seam"):
            importlib.import_module("provisioning.aws.seams")
    finally:
        sys.modules["provisioning.aws.seams"] = saved


def test_without_the_test_settings_no_client_gets_a_seam(settings: Any, aws: None) -> None:
    settings.AWS_TEST_SEAMS = False
    settings.AWS_FAULT_INJECTION = "before:GetCallerIdentity:error=AccessDenied"
    gateway.reset_clients()
    # The rule is there, but nothing installs it: AWS (moto) answers.
    assert gateway.whoami().account == "123456789012"
    gateway.reset_clients()


def test_a_forked_process_builds_its_own_clients_and_never_shares_the_parents_sockets(
    aws: None,
) -> None:
    """The worker's pool forks after the start-up root check has called STS: a child using
    the parent's client would write to the parent's socket. After a fork the child builds
    its own; the parent keeps its."""
    gateway.whoami(quick=True)  # the parent's quick STS client now holds a connection
    parent_client = gateway.client("sts", profile="quick")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's verdict goes through the pipe)
        verdict = b"fresh" if gateway.client("sts", profile="quick") is not parent_client else b""
        os.write(write_end, verdict)
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read() == b"fresh"
    assert gateway.client("sts", profile="quick") is parent_client
