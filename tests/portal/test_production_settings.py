"""PORTAL_ENV=production: every required variable set gives a clean `check --deploy`; a missing
or malformed one stops start-up with a message naming it. Each case is a fresh process, as a
deployment would start."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = [
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "PORTAL_BASE_URL",
    "CREDENTIAL_ENCRYPTION_KEYS",
    "PORTAL_ALLOWED_EMAIL_DOMAINS",
    "AUDIT_CHAIN_KEYS",
]


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def production_env(aws_endpoint: str = "http://127.0.0.1:9", **overrides: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        PORTAL_ENV="production",
        DJANGO_SETTINGS_MODULE="portal.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        DATABASE_URL="postgres://portal@db.internal:5432/portal",
        REDIS_URL="redis://redis.internal:6379/0",
        EMAIL_URL="smtp://mail.internal:25",
        PORTAL_BASE_URL="https://portal.example.com",
        CREDENTIAL_ENCRYPTION_KEYS=f"2:{_key()},1:{_key()}",
        PORTAL_ALLOWED_EMAIL_DOMAINS="example.com",
        AUDIT_CHAIN_KEYS=f"1:{_key()}",
        AWS_ENDPOINT_URL=aws_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(overrides)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_no_issue_with_every_required_variable(moto_server):
    result = run(production_env(moto_server), "manage.py", "check", "--deploy")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in result.stderr


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_required_variable_stops_start_up_naming_it(name):
    env = production_env()
    del env[name]

    result = run(env, "manage.py", "check")

    assert result.returncode != 0
    assert f"{name} must be set when PORTAL_ENV=production" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CREDENTIAL_ENCRYPTION_KEYS": "1:" + base64.b64encode(b"short").decode()}, "5 bytes"),
        ({"CREDENTIAL_ENCRYPTION_KEYS": "no-version-here"}, "version:base64"),
        ({"CREDENTIAL_ENCRYPTION_KEYS": "1:not*base64!"}, "not valid base64"),
        ({"CREDENTIAL_ENCRYPTION_KEYS": f"1:{_key()},1:{_key()}"}, "repeats the version"),
        ({"PORTAL_BASE_URL": "http://portal.example.com"}, "https://"),
        ({"EMAIL_URL": "outbox:///tmp/outbox"}, "demo only"),
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG must be off"),
        ({"DATABASE_URL": "sqlite:////tmp/portal.sqlite3"}, "DATABASE_URL must be PostgreSQL"),
        ({"AUDIT_CHAIN_KEYS": "1:" + base64.b64encode(b"short").decode()}, "AUDIT_CHAIN_KEYS"),
        (
            {"SSO_SAML_METADATA_URL": "http://idp.example.com/md", "SSO_SAML_ENTITY_ID": "idp"},
            "SSO_SAML_METADATA_URL must be https://",
        ),
        ({"SSO_SAML_METADATA_URL": "https://idp.example.com/md"}, "needs SSO_SAML_ENTITY_ID"),
        (
            {
                "SSO_SAML_METADATA_URL": "https://idp.example.com/md",
                "SSO_SAML_ENTITY_ID": "https://idp.example.com",
                "SSO_OIDC_ISSUER": "https://idp.example.com",
                "SSO_OIDC_CLIENT_ID": "portal",
                "SSO_OIDC_ID": "saml",
            },
            "SSO_SAML_ID must differ",
        ),
        ({"SSO_ONLY": "1"}, "SSO_ONLY=1 needs an identity provider"),
    ],
)
def test_an_unsafe_production_value_stops_start_up(overrides, message):
    result = run(production_env(**overrides), "-c", "import portal.settings")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_a_bad_key_is_never_echoed_in_the_error():
    secret = base64.b64encode(b"thirty-one-bytes-of-secret-key!").decode()
    result = run(
        production_env(CREDENTIAL_ENCRYPTION_KEYS=f"7:{secret}"), "-c", "import portal.settings"
    )
    assert "key 1 decodes to 31 bytes" in result.stderr
    assert secret not in result.stderr


def test_keys_in_standard_or_urlsafe_base64_are_accepted():
    raw = bytes(range(250, 256)) + secrets.token_bytes(26)  # encodes with + / or - _
    keys = f"2:{base64.urlsafe_b64encode(raw).decode()},1:{base64.b64encode(raw).decode()}"
    result = run(production_env(CREDENTIAL_ENCRYPTION_KEYS=keys), "-c", "import portal.settings")
    assert result.returncode == 0, result.stderr


def test_a_saml_identity_provider_from_the_environment_is_strict():
    env = production_env(
        SSO_SAML_METADATA_URL="https://idp.example.com/app/metadata",
        SSO_SAML_ENTITY_ID="https://idp.example.com",
        SSO_SAML_NAME="Acme",
        SSO_SAML_MFA_AUTHN_CONTEXTS="http://schemas.microsoft.com/claims/multipleauthn",
        SSO_ONLY="1",
        SSO_BREAK_GLASS_EMAILS="security@example.com",
    )
    script = (
        "import json, portal.settings as s; "
        "print(json.dumps([s.SOCIALACCOUNT_PROVIDERS['saml'], s.SSO_SAML_MFA_AUTHN_CONTEXTS]))"
    )
    result = run(env, "-c", script)
    assert result.returncode == 0, result.stderr
    saml, contexts = json.loads(result.stdout)
    [app] = saml["APPS"]
    assert saml["provider_class"] == "accounts.adapters.PortalSAMLProvider"
    assert app["client_id"] == app["provider_id"] == "saml"
    assert app["name"] == "Acme"
    assert app["settings"]["idp"] == {
        "metadata_url": "https://idp.example.com/app/metadata",
        "entity_id": "https://idp.example.com",
    }
    assert app["settings"]["sp"] == {
        "entity_id": "https://portal.example.com/accounts/saml/saml/metadata/"
    }
    assert app["settings"]["verified_email"] is False
    assert app["settings"]["advanced"] == {
        "strict": True,
        "want_assertion_signed": True,
        "reject_idp_initiated_sso": True,
        "reject_deprecated_algorithm": True,
    }
    assert contexts == ["http://schemas.microsoft.com/claims/multipleauthn"]
