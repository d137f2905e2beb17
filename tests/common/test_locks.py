"""Named advisory locks: every key distinct, the audit chain's included."""

from __future__ import annotations

from audit.services import _CHAIN_LOCK_KEY
from common.locks import AUDIT_CHAIN_KEY, LockKey


def test_no_two_features_share_an_advisory_lock_key() -> None:
    keys = [int(key) for key in LockKey]
    assert len(set(keys)) == len(keys)
    assert _CHAIN_LOCK_KEY == AUDIT_CHAIN_KEY
    assert AUDIT_CHAIN_KEY not in keys
