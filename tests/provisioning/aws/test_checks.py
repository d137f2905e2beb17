"""The system check: the portal refuses the account's root credentials and shrugs off an
unreachable AWS with a warning."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from provisioning import aws as gateway
from provisioning.checks import aws_credentials_are_not_root
from tests.conftest import ROOT_ARN


def test_root_credentials_are_refused_by_the_system_check(root_credentials):
    assert gateway.whoami(quick=True).arn == ROOT_ARN

    problems = aws_credentials_are_not_root()

    assert [problem.id for problem in problems] == ["provisioning.E001"]
    assert ROOT_ARN in problems[0].msg
    assert problems[0].is_serious()


def test_manage_py_check_stops_on_root_credentials(root_credentials):
    with pytest.raises(SystemCheckError, match=r"provisioning\.E001"):
        call_command("check")


def test_an_iam_users_credentials_pass_the_check(aws, monkeypatch):
    gateway.call("CreateUser", UserName="portal-service")
    key = gateway.call("CreateAccessKey", UserName="portal-service")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    gateway.reset_clients()

    assert gateway.whoami(quick=True).arn == "arn:aws:iam::123456789012:user/portal-service"
    assert aws_credentials_are_not_root() == []


def test_unreachable_aws_is_a_quick_warning_not_a_crash(settings):
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    started = time.monotonic()

    problems = aws_credentials_are_not_root()

    assert time.monotonic() - started < 10
    assert [problem.id for problem in problems] == ["provisioning.W001"]
    assert not problems[0].is_serious()
    assert "ConnectionError" in problems[0].msg
