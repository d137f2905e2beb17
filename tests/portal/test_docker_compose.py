"""docker-compose.yml in the production shape. No Docker engine runs here, so the file is read
as compose would read it: every service the settings need is there, wired with every required
variable, with a health check; and the environment it gives passes the production settings."""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from tests.portal.test_production_settings import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"web", "worker", "worker-urgent", "beat", "postgres", "redis", "mailpit", "moto"}
PORTAL_SERVICES = ("web", "worker", "worker-urgent", "beat")
# What an operator puts in .env: the values compose refuses to start without.
OPERATOR_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
    "PORTAL_DB_PASSWORD": secrets.token_urlsafe(16),
    "AUDIT_CHAIN_KEYS": "1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "CREDENTIAL_ENCRYPTION_KEYS": "1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "PORTAL_ALLOWED_EMAIL_DOMAINS": "example.com",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default}, ${NAME-default} and ${NAME:?error}."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2) or "", match.group(3) or ""
        if operator == ":?":
            if not env.get(name):
                raise AssertionError(f"compose would refuse to start: {argument}")
            return env[name]
        if operator == ":-":
            return env.get(name) or argument
        if operator == "-":
            return env.get(name, argument)
        return env.get(name, "")

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(:-|:\?|-)?([^}]*)\}", replace, value)


def service_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    environment = compose["services"][name]["environment"]
    return {key: interpolate(str(value), OPERATOR_ENV) for key, value in environment.items()}


def test_every_service_of_the_production_shape_is_there(compose):
    assert set(compose["services"]) >= SERVICES


@pytest.mark.parametrize("service", PORTAL_SERVICES)
def test_web_worker_and_beat_get_every_required_production_variable(compose, service):
    env = service_env(compose, service)
    assert env["PORTAL_ENV"] == "production"
    missing = [name for name in REQUIRED if not env.get(name)]
    assert not missing


def test_the_portal_is_wired_to_the_compose_services(compose):
    env = service_env(compose, "web")
    assert urlparse(env["DATABASE_URL"]).hostname == "postgres"
    assert urlparse(env["REDIS_URL"]).hostname == "redis"
    assert urlparse(env["EMAIL_URL"]).scheme == "smtp"
    assert urlparse(env["EMAIL_URL"]).hostname == "mailpit"
    assert urlparse(env["AWS_ENDPOINT_URL"]).hostname == "moto"
    assert urlparse(env["PORTAL_BASE_URL"]).scheme == "https"
    postgres = compose["services"]["postgres"]["environment"]
    assert urlparse(env["DATABASE_URL"]).password == interpolate(
        postgres["PORTAL_DB_PASSWORD"], OPERATOR_ENV
    )


def test_the_portal_runs_as_a_role_that_does_not_own_the_tables_and_migrates_as_the_owner(compose):
    owner = compose["services"]["postgres"]["environment"]["POSTGRES_USER"]
    for service in PORTAL_SERVICES:
        assert urlparse(service_env(compose, service)["DATABASE_URL"]).username == "portal"
    migrate = service_env(compose, "migrate")
    assert urlparse(migrate["DATABASE_URL"]).username == owner != "portal"
    command = " ".join(compose["services"]["migrate"]["command"])
    assert "grant_runtime_role portal" in command
    init = compose["services"]["postgres"]["volumes"]
    assert any("postgres-init.sh:/docker-entrypoint-initdb.d/" in volume for volume in init)
    assert "CREATE ROLE portal LOGIN" in (ROOT / "scripts" / "postgres-init.sh").read_text()


def test_secrets_have_no_default_in_the_file(compose):
    raw = compose["services"]["web"]["environment"]
    for name in ("DJANGO_SECRET_KEY", "CREDENTIAL_ENCRYPTION_KEYS", "AUDIT_CHAIN_KEYS"):
        assert ":?" in raw[name], f"{name} must be required, never defaulted"
    with pytest.raises(AssertionError, match="DJANGO_SECRET_KEY"):
        interpolate(raw["DJANGO_SECRET_KEY"], {})


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_long_running_service_has_a_health_check(compose, service):
    check = compose["services"][service].get("healthcheck", {})
    assert check.get("test"), f"{service} has no health check"
    assert check.get("interval") and check.get("retries")


def test_the_web_health_check_asks_healthz(compose):
    test = compose["services"]["web"]["healthcheck"]["test"]
    assert test[-2:] == ["scripts/healthcheck.py", "web"]
    assert '/healthz"' in (ROOT / "scripts" / "healthcheck.py").read_text()


def test_each_process_runs_what_the_design_says(compose):
    services = compose["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "portal", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "portal", "beat"]
    assert "migrate" in " ".join(services["migrate"]["command"])


def test_the_urgent_worker_reads_only_the_queue_cuts_are_sent_to(compose, settings):
    from portal.celery import app

    command = compose["services"]["worker-urgent"]["command"]
    assert command[:4] == ["celery", "-A", "portal", "worker"]
    assert command[command.index("-Q") + 1] == settings.URGENT_QUEUE
    route = app.amqp.router.route({}, "provisioning.tasks.cut_offboarding_access", args=(1,))
    assert route["queue"].name == settings.URGENT_QUEUE
    # The main worker reads every queue, the urgent one first, in that order each time.
    assert "-Q" not in compose["services"]["worker"]["command"]
    assert list(app.amqp.queues.consume_from) == [settings.URGENT_QUEUE, "celery"]
    assert app.conf.broker_transport_options["queue_order_strategy"] == "priority"


def test_the_dockerfile_builds_the_image_the_services_use(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11" in dockerfile
    assert "USER portal" in dockerfile  # never root at run time
    for service in PORTAL_SERVICES:
        assert compose["services"][service]["build"] == "."


def test_the_environment_compose_gives_passes_the_production_settings(compose):
    env = {"PATH": os.environ["PATH"], **service_env(compose, "web")}
    result = subprocess.run(
        [sys.executable, "-c", "import portal.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
