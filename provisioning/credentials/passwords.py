"""Console passwords generated to the account's password policy.

moto accepts any password, so nothing here may rely on AWS refusing a weak one: the generator
satisfies the policy by construction. Whatever the policy asks, a password is at least 20
characters and holds all four character classes (stronger than AWS's default policy, which
applies when the account has none).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

MINIMUM_LENGTH = 20
# IAM accepts passwords of at most 128 characters.
MAXIMUM_LENGTH = 128
# The non-alphanumeric characters IAM counts as symbols, less the quote: passwords end up in
# a CSV file and on a page, where a quote is the one character that invites mistakes.
SYMBOLS = "!@#$%^&*()_+-=[]{}|"
CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS)


@dataclass(frozen=True)
class PasswordPolicy:
    """The parts of IAM's account password policy that constrain a new password."""

    minimum_length: int = 8
    require_uppercase: bool = False
    require_lowercase: bool = False
    require_numbers: bool = False
    require_symbols: bool = False
    # True when the account has no policy and AWS's default applies.
    aws_default: bool = False

    @classmethod
    def from_aws(cls, policy: dict[str, Any] | None) -> PasswordPolicy:
        if policy is None:
            # AWS's default: 8 to 128 characters, three of the four classes.
            return cls(aws_default=True)
        return cls(
            minimum_length=int(policy.get("MinimumPasswordLength", 8)),
            require_uppercase=bool(policy.get("RequireUppercaseCharacters")),
            require_lowercase=bool(policy.get("RequireLowercaseCharacters")),
            require_numbers=bool(policy.get("RequireNumbers")),
            require_symbols=bool(policy.get("RequireSymbols")),
        )

    def problems(self, password: str) -> list[str]:
        """What this password lacks under the policy (empty when it complies)."""
        found = []
        if len(password) < self.minimum_length:
            found.append(f"shorter than {self.minimum_length} characters")
        if self.require_uppercase and not any(c in string.ascii_uppercase for c in password):
            found.append("no uppercase letter")
        if self.require_lowercase and not any(c in string.ascii_lowercase for c in password):
            found.append("no lowercase letter")
        if self.require_numbers and not any(c in string.digits for c in password):
            found.append("no digit")
        if self.require_symbols and not any(c in SYMBOLS for c in password):
            found.append("no symbol")
        if self.aws_default and sum(any(c in k for c in password) for k in CLASSES) < 3:
            found.append("fewer than three character classes")
        return found


def password_generate(policy: PasswordPolicy) -> str:
    """A random password meeting `policy`, at least 20 characters of all four classes, that
    starts with a letter or digit: never a character a spreadsheet would take for the start
    of a formula (the credentials file is a CSV)."""
    length = min(MAXIMUM_LENGTH, max(MINIMUM_LENGTH, policy.minimum_length))
    alphabet = "".join(CLASSES)
    chosen = [secrets.choice(characters) for characters in CLASSES]
    chosen += [secrets.choice(alphabet) for _ in range(length - len(chosen))]
    # Shuffle so the guaranteed classes are not always the first four characters.
    for index in range(len(chosen) - 1, 0, -1):
        other = secrets.randbelow(index + 1)
        chosen[index], chosen[other] = chosen[other], chosen[index]
    # Then swap a letter or digit to the front (there is at least one of each).
    first = next(i for i, c in enumerate(chosen) if c.isalnum())
    chosen[0], chosen[first] = chosen[first], chosen[0]
    return "".join(chosen)
