"""/healthz: database, broker and AWS, as JSON; 200 when all answer, 503 otherwise."""

from __future__ import annotations

import time

import pytest

from portal.celery import app as celery_app
from provisioning import aws as gateway

TOKEN = "a-probe-token-for-the-tests"


@pytest.fixture(autouse=True)
def _probe_token(settings):
    settings.HEALTHZ_TOKEN = TOKEN


def _probe(client):
    return client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


@pytest.mark.django_db
def test_healthz_is_200_when_database_broker_and_aws_answer(client, redis_url, aws_server):
    response = _probe(client)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: part["ok"] for name, part in body.items() if name != "status"} == {
        "database": True,
        "broker": True,
        "aws": True,
    }
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_does_not_tell_anonymous_callers_the_aws_account(client, redis_url, aws_server):
    assert "123456789012" not in client.get("/healthz").content.decode()


@pytest.mark.django_db
def test_healthz_is_503_quickly_when_the_broker_is_down(
    client, aws_server, monkeypatch, unused_tcp_port
):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{unused_tcp_port}/0")
    started = time.monotonic()

    response = _probe(client)

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_when_aws_cannot_be_reached(client, redis_url, settings, unused_tcp_port):
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{unused_tcp_port}"
    gateway.reset_clients()

    response = _probe(client)

    assert response.status_code == 503
    assert response.json()["aws"] == {"ok": False, "detail": "ConnectionError"}


@pytest.mark.django_db
def test_anonymous_callers_learn_only_healthy_or_not(client, settings, unused_tcp_port):
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{unused_tcp_port}"
    gateway.reset_clients()
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}):
        response = client.get("/healthz", **headers)
        assert response.status_code == 503
        assert response.json() == {"status": "unhealthy"}


@pytest.mark.django_db
def test_a_signed_in_security_admin_sees_the_details(client, security_admin, settings):
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"
    gateway.reset_clients()
    client.force_login(security_admin)
    assert client.get("/healthz").json()["aws"]["ok"] is False


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
