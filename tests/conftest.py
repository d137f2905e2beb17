from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import botocore.handlers
import pytest
from django.conf import settings
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate

from accounts import roles
from tests.factories import UserFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"database: {settings.DATABASE_CHOICE}",
        f"redis: {settings.REDIS_URL}",
        f"REQUIRE_SERVICES={'1' if REQUIRE_SERVICES else '0'}",
    ]


def pytest_sessionstart(session: pytest.Session) -> None:
    if REQUIRE_SERVICES and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        raise pytest.UsageError(
            "REQUIRE_SERVICES=1 but the tests would run on "
            f"{settings.DATABASE_CHOICE}: start Postgres on 127.0.0.1:5432 or set DATABASE_URL"
        )


def _allow_audit_flush(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The test database only: lets the flush between transactional tests TRUNCATE the
    # append-only audit table (see audit/migrations/0002_append_only.py).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET portal.audit_maintenance = 'on'")


connection_created.connect(_allow_audit_flush)


def _reseed_catalogue(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # The flush after a transactional test empties every table; the roles come back by
    # themselves (accounts/apps.py), the starting catalogue is data, so tests put it back.
    from importlib import import_module

    from django.utils import timezone

    from provisioning.models import RoleGroup

    for entry in import_module("provisioning.migrations.0002_seed_catalogue").CATALOGUE:
        # As `make run` and a deployment leave it: synced to AWS, so people can request it.
        RoleGroup.objects.using(using).get_or_create(
            name=entry["name"], defaults={**entry, "synced_at": timezone.now()}
        )


post_migrate.connect(_reseed_catalogue, dispatch_uid="tests.reseed_catalogue")


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis, or a skip (a failure under REQUIRE_SERVICES=1)."""
    from urllib.parse import urlparse

    url = settings.REDIS_URL
    parsed = urlparse(url)
    if not service_reachable(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        message = f"Redis is not reachable at {url}"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_required() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        message = "this test needs Postgres"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never let a test reach a real AWS account, whatever the machine has configured.
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _as_a_sync_leaves_it() -> None:
    """The account as `sync_catalogue` leaves it (the portal's MFA policy exists): the
    catalogue's groups are requestable only once synced, and provisioning checks each group
    holds that policy."""
    from provisioning import aws as gateway

    gateway.ensure_mfa_policy(gateway.whoami().account)
    gateway.reset_clients()


@pytest.fixture
def aws(settings: Any) -> Iterator[None]:
    """In-process moto for one test, with the portal's clients rebuilt against it."""
    from moto import mock_aws

    from provisioning import aws as gateway
    from provisioning.aws import seams
    from tests import strict_iam

    settings.AWS_ENDPOINT_URL = ""
    gateway.reset_clients()
    seams.reset()
    strict_iam.reset()
    with mock_aws():
        _as_a_sync_leaves_it()
        yield
    gateway.reset_clients()
    seams.reset()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on a free local port, for code in another process (workers, scripts)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_server(moto_server: str, settings: Any) -> Iterator[str]:
    """The moto server, reset, with the portal's clients pointed at it."""
    import urllib.request

    from provisioning import aws as gateway
    from provisioning.aws import seams
    from tests import strict_iam

    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 (local moto server)
    settings.AWS_ENDPOINT_URL = moto_server
    gateway.reset_clients()
    seams.reset()
    strict_iam.reset()
    _as_a_sync_leaves_it()
    yield moto_server
    gateway.reset_clients()


# --- AWS answering as the account root -----------------------------------------------------

ROOT_ARN = "arn:aws:iam::123456789012:root"


@pytest.fixture
def root_credentials(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers GetCallerIdentity with a user ARN whatever the keys; real AWS answers the
    root ARN for root keys. Every botocore session made from now on rewrites the answer, as
    AWS would give it, after moto has produced it."""

    def answer_as_root(parsed: dict[str, Any] | None = None, **_: Any) -> None:
        if parsed is not None and "Arn" in parsed:
            parsed["Arn"] = ROOT_ARN
            parsed["UserId"] = "123456789012"

    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [*botocore.handlers.BUILTIN_HANDLERS, ("after-call.sts.GetCallerIdentity", answer_as_root)],
    )
    from provisioning import aws as gateway

    gateway.reset_clients()


# --- People in each role ---------------------------------------------------------------------


@pytest.fixture
def manager(db: None) -> Any:
    return UserFactory(email="manager@example.com", full_name="Morgan Manager")


@pytest.fixture
def employee(manager: Any) -> Any:
    return UserFactory(email="employee@example.com", full_name="Erin Employee", manager=manager)


@pytest.fixture
def hr_person(db: None) -> Any:
    return UserFactory(email="hr@example.com", full_name="Harper HR", roles=[roles.HR])


@pytest.fixture
def security_admin(db: None) -> Any:
    return UserFactory(
        email="security@example.com", full_name="Sam Security", roles=[roles.SECURITY_ADMINS]
    )


@pytest.fixture
def auditor(db: None) -> Any:
    return UserFactory(
        email="auditor@example.com", full_name="Alex Auditor", roles=[roles.AUDITORS]
    )


@pytest.fixture
def people(employee: Any, manager: Any, hr_person: Any, security_admin: Any, auditor: Any) -> dict:
    """One person per role, keyed by role name as the authorization matrix uses them."""
    return {
        "employee": employee,
        "manager": manager,
        "hr": hr_person,
        "security": security_admin,
        "auditor": auditor,
    }


@pytest.fixture
def hr_client(client: Any, hr_person: Any) -> Any:
    """A browser signed in as HR."""
    client.force_login(hr_person)
    return client


# The real identity providers the sign-in tests drive (npm packages on loopback), answering the
# live server: an OpenID Connect provider (tests/oidc) and a SAML 2.0 IdP (tests/saml).


@pytest.fixture(scope="session")
def oidc_idp(live_server: Any) -> Iterator[str]:
    from tests.oidc_provider import running_provider

    with running_provider(
        redirect_uri=f"{live_server.url}/accounts/oidc/sso/login/callback/",
        post_logout_redirect_uri=f"{live_server.url}/accounts/login/",
    ) as issuer:
        yield issuer


@pytest.fixture(scope="session")
def saml_idp(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.saml_idp import SLUG, running_idp

    with running_idp(
        sp_metadata_url=f"{live_server.url}/accounts/saml/{SLUG}/metadata/",
        keys_dir=tmp_path_factory.mktemp("saml-keys"),
    ) as base:
        yield base
