"""Console passwords generated to the account's password policy (moto enforces none)."""

from __future__ import annotations

import string

import pytest

from provisioning import aws
from provisioning.credentials.passwords import SYMBOLS, PasswordPolicy, password_generate

STRICT = PasswordPolicy(
    minimum_length=32,
    require_uppercase=True,
    require_lowercase=True,
    require_numbers=True,
    require_symbols=True,
)


def _classes(password: str) -> set[str]:
    found = set()
    for name, characters in (
        ("upper", string.ascii_uppercase),
        ("lower", string.ascii_lowercase),
        ("digit", string.digits),
        ("symbol", SYMBOLS),
    ):
        if any(c in characters for c in password):
            found.add(name)
    return found


def test_without_a_policy_passwords_are_20_characters_of_all_four_classes() -> None:
    for _ in range(200):
        password = password_generate(PasswordPolicy.from_aws(None))
        assert len(password) == 20
        assert _classes(password) == {"upper", "lower", "digit", "symbol"}


def test_passwords_meet_a_strict_policy() -> None:
    for _ in range(200):
        password = password_generate(STRICT)
        assert len(password) == 32
        assert STRICT.problems(password) == []


def test_passwords_use_only_characters_iam_accepts() -> None:
    allowed = set(string.ascii_letters + string.digits + SYMBOLS)
    assert set(password_generate(PasswordPolicy(minimum_length=128))) <= allowed


def test_a_policy_longer_than_iam_allows_is_capped_at_128() -> None:
    assert len(password_generate(PasswordPolicy(minimum_length=500))) == 128


def test_two_passwords_differ() -> None:
    assert password_generate(STRICT) != password_generate(STRICT)


def test_the_policy_lists_what_a_password_lacks() -> None:
    assert STRICT.problems("short") == [
        "shorter than 32 characters",
        "no uppercase letter",
        "no digit",
        "no symbol",
    ]
    assert PasswordPolicy.from_aws(None).problems("onlylowercaseletters") == [
        "fewer than three character classes"
    ]


@pytest.mark.usefixtures("aws")
def test_the_account_policy_is_read_from_aws_and_the_default_applies_without_one() -> None:
    assert PasswordPolicy.from_aws(aws.account_password_policy()).aws_default

    aws.client().update_account_password_policy(
        MinimumPasswordLength=40, RequireSymbols=True, RequireNumbers=True
    )
    policy = PasswordPolicy.from_aws(aws.account_password_policy())

    assert policy == PasswordPolicy(minimum_length=40, require_numbers=True, require_symbols=True)
    assert len(password_generate(policy)) == 40
