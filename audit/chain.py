"""The chain's MAC: HMAC-SHA256 under versioned keys kept outside the database.

`settings.AUDIT_CHAIN_KEYS` lists "version:base64(32 bytes)" entries, newest first (like
CREDENTIAL_ENCRYPTION_KEYS, and separate from them). Each row records the version that
MACed it, so keys rotate: new rows use the newest key, and older listed keys still verify.
Whoever owns the table can rewrite rows, but without the key they cannot recompute the
chain that follows, so `verify_audit` finds the change. What the chain cannot show alone is
a truncated tail (the newest rows deleted leave an intact, shorter chain): the anchors do
(`audit/anchors.py`)."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder

GENESIS_HASH = "0" * 64


def _decode(text: str) -> bytes:
    normalised = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(normalised + "=" * (-len(normalised) % 4), validate=True)


def chain_keys() -> list[tuple[str, bytes]]:
    """(version, key) pairs, newest first; refuses a malformed setting, never echoing a key."""
    return list(_parsed_keys(tuple(settings.AUDIT_CHAIN_KEYS)))


@functools.lru_cache(maxsize=4)
def _parsed_keys(entries: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    # Parsed once per distinct setting: verifying a million rows asks a million times.
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(entries, start=1):
        version, _, encoded = entry.partition(":")
        try:
            raw = _decode(encoded) if version and encoded else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32 or any(version == seen for seen, _ in keys):
            raise ImproperlyConfigured(
                f"AUDIT_CHAIN_KEYS: key {position} is not a new version:base64-of-32-bytes"
            )
        keys.append((version, raw))
    if not keys:
        raise ImproperlyConfigured("AUDIT_CHAIN_KEYS must list at least one key")
    return tuple(keys)


@functools.lru_cache(maxsize=4)
def _keys_by_version(entries: tuple[str, ...]) -> dict[str, bytes]:
    return dict(_parsed_keys(entries))


def newest_key_version() -> str:
    return chain_keys()[0][0]


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def mac(body: bytes, *, version: str) -> str:
    """The row's MAC under the key of `version`; KeyError when that key is not listed."""
    key = _keys_by_version(tuple(settings.AUDIT_CHAIN_KEYS))[version]
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def legacy_hash(body: bytes) -> str:
    """The unkeyed SHA-256 the first releases chained with (verified only to re-key them)."""
    return hashlib.sha256(body).hexdigest()
