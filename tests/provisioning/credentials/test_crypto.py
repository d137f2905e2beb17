"""Sealing credentials: AES-256-GCM under versioned keys, bound to link and field."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from provisioning.credentials import crypto


def _key(version: str, raw: bytes | None = None) -> str:
    return f"{version}:{base64.urlsafe_b64encode(raw or os.urandom(32)).decode()}"


@pytest.fixture
def keys(settings: Any) -> Any:
    settings.CREDENTIAL_ENCRYPTION_KEYS = [_key("2024-01")]
    return settings


def test_a_sealed_value_opens_to_what_was_sealed(keys: Any) -> None:
    sealed = crypto.seal("Hunter2-but-longer!", link_id=7, field="password")

    assert b"Hunter2" not in sealed
    assert crypto.unseal(sealed, link_id=7, field="password") == "Hunter2-but-longer!"


def test_the_same_value_seals_differently_each_time(keys: Any) -> None:
    first = crypto.seal("same", link_id=1, field="password")
    second = crypto.seal("same", link_id=1, field="password")

    assert first != second


def test_the_key_version_is_stored_with_the_ciphertext(keys: Any) -> None:
    sealed = crypto.seal("value", link_id=1, field="password")

    assert sealed[2 : 2 + sealed[1]] == b"2024-01"


def test_values_sealed_under_an_old_key_still_open_after_rotation(keys: Any) -> None:
    sealed = crypto.seal("before rotation", link_id=3, field="secret_access_key")
    keys.CREDENTIAL_ENCRYPTION_KEYS = [_key("2025-06"), *keys.CREDENTIAL_ENCRYPTION_KEYS]

    newer = crypto.seal("after rotation", link_id=3, field="secret_access_key")

    assert crypto.unseal(sealed, link_id=3, field="secret_access_key") == "before rotation"
    assert newer[2 : 2 + newer[1]] == b"2025-06"


def test_a_value_whose_key_was_removed_does_not_open(keys: Any) -> None:
    sealed = crypto.seal("orphaned", link_id=3, field="password")
    keys.CREDENTIAL_ENCRYPTION_KEYS = [_key("2025-06")]

    with pytest.raises(crypto.SealError, match="no longer"):
        crypto.unseal(sealed, link_id=3, field="password")


@pytest.mark.parametrize(
    ("link_id", "field"), [(4, "password"), (3, "secret_access_key")], ids=["link", "field"]
)
def test_a_value_moved_to_another_link_or_field_does_not_open(
    keys: Any, link_id: int, field: str
) -> None:
    sealed = crypto.seal("bound", link_id=3, field="password")

    with pytest.raises(crypto.SealError):
        crypto.unseal(sealed, link_id=link_id, field=field)


def test_a_tampered_value_does_not_open(keys: Any) -> None:
    sealed = bytearray(crypto.seal("intact", link_id=3, field="password"))
    sealed[-1] ^= 1

    with pytest.raises(crypto.SealError):
        crypto.unseal(bytes(sealed), link_id=3, field="password")


@pytest.mark.parametrize(
    "configured",
    [[], ["no-separator"], ["v1:not base64!"], [_key("v1", b"short")], [_key("v1"), _key("v1")]],
    ids=["none", "no version", "not base64", "not 32 bytes", "repeated version"],
)
def test_bad_key_settings_stop_with_a_clear_message(settings: Any, configured: list[str]) -> None:
    settings.CREDENTIAL_ENCRYPTION_KEYS = configured

    with pytest.raises(ImproperlyConfigured, match="CREDENTIAL_ENCRYPTION_KEYS"):
        crypto.seal("x", link_id=1, field="password")


def test_standard_base64_keys_are_accepted_too(settings: Any) -> None:
    # Bytes 0xfb encode to "+" and "/" in the standard alphabet, "-" and "_" in the URL-safe one.
    standard = base64.b64encode(bytes([0xFB]) * 32).decode()
    assert "+" in standard or "/" in standard
    settings.CREDENTIAL_ENCRYPTION_KEYS = [f"v1:{standard}"]

    assert crypto.unseal(crypto.seal("ok", link_id=1, field="f"), link_id=1, field="f") == "ok"
