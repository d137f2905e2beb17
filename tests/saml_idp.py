"""A real SAML 2.0 identity provider for the SAML sign-in tests: samlify from the npm registry
(tests/saml/server.js), started on loopback with a signing key made here. `make test` installs
it (npm ci)."""

from __future__ import annotations

import datetime
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent / "saml"
SLUG = "saml"  # the portal's SSO_SAML_ID in the tests
EMAIL_ATTRIBUTE = "urn:oid:0.9.2342.19200300.100.1.3"
NAME_ATTRIBUTE = "urn:oid:2.16.840.1.113730.3.1.241"
PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MFA_CONTEXT = "http://schemas.microsoft.com/claims/multipleauthn"


def _write_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Test SAML IdP ({name})")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@contextmanager
def running_idp(*, sp_metadata_url: str, keys_dir: Path) -> Iterator[str]:
    """Start the IdP; yields its base URL (metadata at /metadata, its entity id too)."""
    if not (ROOT / "node_modules" / "samlify").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(ROOT)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    idp_key, idp_cert = _write_key_pair(keys_dir, "idp")
    rogue_key, rogue_cert = _write_key_pair(keys_dir, "rogue")
    env = {
        **os.environ,
        "SAML_SP_METADATA_URL": sp_metadata_url,
        "SAML_IDP_KEY": str(idp_key),
        "SAML_IDP_CERT": str(idp_cert),
        "SAML_ROGUE_KEY": str(rogue_key),
        "SAML_ROGUE_CERT": str(rogue_cert),
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
        base = process.stdout.readline().strip()
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the SAML IdP did not start (said {base!r})")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def next_login(
    idp: str,
    *,
    email: str,
    name: str = "Robin Saml",
    authn_context: str = PASSWORD_CONTEXT,
    signer: str = "idp",
    attributes: dict[str, list[str]] | None = None,
    **extra: Any,
) -> None:
    """Who signs in at the IdP next: NameID and email attribute `email`, and how."""
    body = {
        "name_id": email,
        "attributes": {EMAIL_ATTRIBUTE: [email], NAME_ATTRIBUTE: [name], **(attributes or {})},
        "authn_context": authn_context,
        "signer": signer,
        **extra,
    }
    response = requests.post(f"{idp}/test/next-login", json=body, timeout=5)
    response.raise_for_status()


def configure_portal(
    settings: Any, idp: str, portal: str, *, email_verified: bool, metadata_url: str = ""
) -> None:
    """The portal (pytest-django's `settings`) with this IdP as its SAML provider, "Acme SAML",
    set up as production's settings set it up (portal.settings.saml_app)."""
    from portal.settings import saml_app

    app = saml_app(
        SLUG,
        metadata_url or f"{idp}/metadata",
        f"{idp}/metadata",
        "Acme SAML",
        base_url=portal,
        email_verified=email_verified,
    )
    settings.SSO_SAML_APPS = [app]
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "saml": {"provider_class": "accounts.adapters.PortalSAMLProvider", "APPS": [app]},
    }
    settings.PORTAL_BASE_URL = portal
