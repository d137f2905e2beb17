"""/healthz: database, broker and AWS as last checked in the background, as JSON; 200 when all
answered, 503 otherwise or when the snapshot is stale. /readyz: database and broker, live."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

from portal import health as portal_health
from portal.celery import app as celery_app
from portal.tasks import refresh_health
from provisioning import aws as gateway

TOKEN = "a-probe-token-for-the-tests"


@pytest.fixture(autouse=True)
def _probe_token(settings):
    settings.HEALTHZ_TOKEN = TOKEN
    cache.delete_many([portal_health.SNAPSHOT_KEY, portal_health.AWS_PROBE_KEY])
    yield
    cache.delete_many([portal_health.SNAPSHOT_KEY, portal_health.AWS_PROBE_KEY])


@pytest.fixture
def sts_calls():
    """Every STS call the portal's client attempts, counted by botocore before it is sent."""
    made: list[str] = []
    with gateway.quick_calls():
        quick = gateway.client("sts")
    clients = {id(c): c for c in (gateway.client("sts"), quick)}.values()

    def count(model=None, **_):
        made.append(model.name)

    for sts in clients:
        sts.meta.events.register("before-call", count)
    yield made
    for sts in clients:
        sts.meta.events.unregister("before-call", count)


def _probe(client, path="/healthz"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def _parts(body):
    return {name: part["ok"] for name, part in body.items() if name != "status"}


@pytest.mark.django_db
def test_healthz_is_200_when_database_broker_and_aws_answer(client, redis_url, aws_server):
    refresh_health.delay()

    response = _probe(client)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert _parts(body) == {"database": True, "broker": True, "aws": True}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_answers_from_the_snapshot_without_calling_aws(
    client, redis_url, aws_server, sts_calls
):
    with time_machine.travel(time.time(), tick=False):  # however slow the machine is today
        refresh_health.delay()
        assert sts_calls == ["GetCallerIdentity"]

        for _ in range(20):
            assert _probe(client).status_code == 200
            assert client.get("/healthz").status_code == 200

    assert sts_calls == ["GetCallerIdentity"]


@pytest.mark.django_db
def test_aws_is_asked_at_most_once_a_minute_however_often_the_snapshot_is_refreshed(
    client, redis_url, aws_server, sts_calls, settings
):
    settings.HEALTH_REFRESH_SECONDS = 1
    with time_machine.travel(time.time(), tick=False) as traveller:
        for _ in range(5):
            refresh_health.delay()
            traveller.shift(10)
        assert sts_calls == ["GetCallerIdentity"]
        traveller.shift(11)  # a minute since AWS was asked
        refresh_health.delay()
    assert sts_calls == ["GetCallerIdentity", "GetCallerIdentity"]


@pytest.mark.django_db
def test_an_old_snapshot_is_answered_at_once_and_refreshed_in_the_background(
    client, redis_url, aws_server, sts_calls, settings, monkeypatch
):
    refresh_health.delay()
    first = cache.get(portal_health.SNAPSHOT_KEY)["checked_at"]
    started: list[object] = []
    real_refresh_soon = portal_health.refresh_soon
    monkeypatch.setattr(
        portal_health, "refresh_soon", lambda: started.append(real_refresh_soon()) or started[-1]
    )

    with time_machine.travel(first + settings.HEALTH_REFRESH_SECONDS + 1, tick=False):
        assert _probe(client).status_code == 200
        assert len(started) == 1 and started[0] is not None
        started[0].join(timeout=10)

    assert cache.get(portal_health.SNAPSHOT_KEY)["checked_at"] > first
    assert sts_calls == ["GetCallerIdentity"]  # AWS was asked under a minute ago


@pytest.mark.django_db
def test_a_stale_aws_result_is_unhealthy_so_a_dead_refresher_does_not_look_healthy(
    client, redis_url, aws_server, settings, monkeypatch, sts_calls
):
    refresh_health.delay()
    checked_at = cache.get(portal_health.SNAPSHOT_KEY)["checked_at"]
    monkeypatch.setattr(portal_health, "refresh_soon", lambda: None)  # the refresher is dead

    with time_machine.travel(checked_at + 4 * settings.HEALTH_AWS_SECONDS, tick=False):
        cache.delete(portal_health.AWS_PROBE_KEY)  # long expired by now
        response = _probe(client)
        anonymous = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["aws"]["ok"] is False
    assert body["aws"]["detail"].startswith("stale: last checked")
    # The cheap checks were made on the spot; AWS never is, once there is a snapshot.
    assert body["database"]["ok"] is True and body["database"]["age_seconds"] == 0
    assert sts_calls == ["GetCallerIdentity"]
    assert anonymous.json() == {"status": "unhealthy"}


@pytest.mark.django_db
def test_healthz_does_not_tell_anonymous_callers_the_aws_account(client, redis_url, aws_server):
    refresh_health.delay()
    assert "123456789012" not in client.get("/healthz").content.decode()


@pytest.mark.django_db
def test_healthz_is_503_quickly_when_the_broker_is_down(
    client, aws_server, monkeypatch, unused_tcp_port
):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{unused_tcp_port}/0")
    started = time.monotonic()
    refresh_health.delay()

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
    refresh_health.delay()

    response = _probe(client)

    assert response.status_code == 503
    assert response.json()["aws"]["ok"] is False
    assert response.json()["aws"]["detail"] == "ConnectionError"


@pytest.mark.django_db
def test_a_cold_cache_is_checked_once_on_the_spot(client, redis_url, aws_server, sts_calls):
    assert _probe(client).status_code == 200
    assert _probe(client).status_code == 200
    assert sts_calls == ["GetCallerIdentity"]


@pytest.mark.django_db
def test_anonymous_callers_learn_only_healthy_or_not(client, settings, unused_tcp_port):
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{unused_tcp_port}"
    gateway.reset_clients()
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}):
        for path in ("/healthz", "/readyz"):
            response = client.get(path, **headers)
            assert response.status_code in (200, 503)
            assert set(response.json()) == {"status"}
        assert client.get("/healthz", **headers).json() == {"status": "unhealthy"}


@pytest.mark.django_db
def test_a_signed_in_security_admin_sees_the_details(client, security_admin, settings):
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"
    gateway.reset_clients()
    client.force_login(security_admin)
    assert client.get("/healthz").json()["aws"]["ok"] is False


@pytest.mark.django_db
def test_readyz_probes_database_and_broker_live_and_never_aws(client, redis_url, sts_calls):
    response = _probe(client, "/readyz")

    assert response.status_code == 200
    assert _parts(response.json()) == {"database": True, "broker": True}
    assert sts_calls == []


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_down(client, redis_url, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("database is down")

    # The probe's cursor fails as a dead server's would; the view still answers.
    monkeypatch.setattr(connection, "cursor", refuse)

    response = _probe(client, "/readyz")

    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "detail": "ConnectionRefusedError"}


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_an_unreachable_cache_is_unhealthy_without_any_live_probe(
    client, sts_calls, unused_tcp_port
):
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{unused_tcp_port}/0",
    }
    with override_settings(CACHES={"default": unreachable}):
        response = _probe(client)

    assert response.status_code == 503
    assert response.json()["cache"]["ok"] is False
    assert sts_calls == []
