"""A real OpenID Connect provider for the sign-in tests: panva's oidc-provider from the npm
registry (tests/oidc/server.js), started on loopback. `make test` installs it (npm ci)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "portal"
CLIENT_SECRET = "portal-test-client-secret-8d1f0c"


@contextmanager
def running_provider(*, redirect_uri: str, post_logout_redirect_uri: str) -> Iterator[str]:
    """Start the provider; yields its issuer URL."""
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(ROOT)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": redirect_uri,
        "OIDC_POST_LOGOUT_REDIRECT_URIS": post_logout_redirect_uri,
        "NODE_ENV": "test",
    }
    process = subprocess.Popen(
        ["node", str(ROOT / "server.js")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        issuer = process.stdout.readline().strip()
        if not issuer.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the OIDC provider did not start (said {issuer!r})")
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


def app_settings(issuer: str, *, provider_id: str = "sso", name: str = "Acme SSO") -> dict:
    return {
        "provider_id": provider_id,
        "name": name,
        "client_id": CLIENT_ID,
        "secret": CLIENT_SECRET,
        "settings": {"server_url": issuer, "oauth_pkce_enabled": True},
    }


def next_login(issuer: str, **account: Any) -> None:
    """Who signs in at the provider next, and how (amr, acr)."""
    response = requests.post(f"{issuer}/test/next-login", json=account, timeout=5)
    response.raise_for_status()
