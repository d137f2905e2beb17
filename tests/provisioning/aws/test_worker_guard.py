"""The worker, like the web, refuses the account's root credentials."""

from __future__ import annotations

import logging

import pytest
from celery.exceptions import WorkerShutdown

from provisioning.worker_guard import refuse_root_credentials
from tests.conftest import ROOT_ARN


def test_the_worker_refuses_to_start_with_root_credentials(root_credentials, caplog):
    with caplog.at_level(logging.CRITICAL), pytest.raises(WorkerShutdown):
        refuse_root_credentials()
    assert ROOT_ARN in caplog.text


def test_the_worker_starts_with_an_iam_principal(aws):
    refuse_root_credentials()


def test_the_worker_only_warns_when_aws_is_unreachable(settings, caplog):
    from provisioning import aws as gateway

    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"
    gateway.reset_clients()
    with caplog.at_level(logging.WARNING):
        refuse_root_credentials()
    assert "could not be reached" in caplog.text
    gateway.reset_clients()
