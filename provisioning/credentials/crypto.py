"""Sealing credentials at rest: AES-256-GCM under versioned keys.

`settings.CREDENTIAL_ENCRYPTION_KEYS` lists "version:base64(32 bytes)" entries, newest first.
New values are sealed under the newest key; any listed key still opens what it sealed, so keys
rotate without losing links that are waiting to be revealed. The keys are separate from
SECRET_KEY on purpose: leaking one must not open the other.

A sealed value is `b"\\x01" + len(version) + version + nonce(12) + ciphertext-and-tag`. The
associated data names the credential link (or, with `scope`, another row that holds a secret:
an MFA enrolment's seed) and the field, so a ciphertext copied into another row or column does
not open.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FORMAT = 1
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value cannot be opened: unknown key version, tampered, or moved."""


@dataclass(frozen=True)
class _Key:
    version: str
    aead: AESGCM


def _decode(text: str) -> bytes:
    # Accept both the standard and the URL-safe alphabet: people paste either.
    normalised = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(normalised + "=" * (-len(normalised) % 4), validate=True)


def _keys() -> list[_Key]:
    entries = settings.CREDENTIAL_ENCRYPTION_KEYS
    if not entries:
        raise ImproperlyConfigured("CREDENTIAL_ENCRYPTION_KEYS must list at least one key")
    keys: list[_Key] = []
    for entry in entries:
        version, separator, encoded = entry.partition(":")
        if not separator or not version or len(version.encode()) > 255:
            raise ImproperlyConfigured(
                'CREDENTIAL_ENCRYPTION_KEYS entries look like "version:base64-key"'
            )
        try:
            raw = _decode(encoded)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                f"CREDENTIAL_ENCRYPTION_KEYS key {version!r} is not valid base64"
            ) from None
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"CREDENTIAL_ENCRYPTION_KEYS key {version!r} must be 32 bytes (AES-256), "
                f"not {len(raw)}"
            )
        if any(key.version == version for key in keys):
            raise ImproperlyConfigured(f"CREDENTIAL_ENCRYPTION_KEYS repeats version {version!r}")
        keys.append(_Key(version, AESGCM(raw)))
    return keys


LINK_SCOPE = "credential-link"


def _associated_data(link_id: int, field: str, version: str, scope: str) -> bytes:
    return f"{scope}:{link_id}:{field}:{version}".encode()


def seal(plaintext: str, *, link_id: int, field: str, scope: str = LINK_SCOPE) -> bytes:
    """Encrypt under the newest key, bound to this row (a credential link's, unless `scope`
    names another table) and field."""
    key = _keys()[0]
    nonce = os.urandom(NONCE_BYTES)
    version = key.version.encode()
    ciphertext = key.aead.encrypt(
        nonce, plaintext.encode(), _associated_data(link_id, field, key.version, scope)
    )
    return bytes([FORMAT, len(version)]) + version + nonce + ciphertext


def _parse(sealed: bytes) -> tuple[str, bytes, bytes]:
    if len(sealed) < 2 or sealed[0] != FORMAT:
        raise SealError("not a sealed value of a known format")
    end = 2 + sealed[1]
    version = sealed[2:end].decode(errors="replace")
    nonce = sealed[end : end + NONCE_BYTES]
    ciphertext = sealed[end + NONCE_BYTES :]
    if len(nonce) != NONCE_BYTES or not ciphertext:
        raise SealError("sealed value is truncated")
    return version, nonce, ciphertext


def unseal(sealed: bytes | memoryview, *, link_id: int, field: str, scope: str = LINK_SCOPE) -> str:
    """Decrypt with whichever listed key sealed it; refuse anything moved or altered."""
    version, nonce, ciphertext = _parse(bytes(sealed))
    key = next((key for key in _keys() if key.version == version), None)
    if key is None:
        raise SealError(f"key version {version!r} is no longer in CREDENTIAL_ENCRYPTION_KEYS")
    try:
        plaintext = key.aead.decrypt(
            nonce, ciphertext, _associated_data(link_id, field, version, scope)
        )
    except InvalidTag:
        raise SealError("sealed value does not open: altered, or moved from elsewhere") from None
    return plaintext.decode()
