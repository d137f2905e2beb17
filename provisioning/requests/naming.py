"""IAM user names derived from people's email addresses.

IAM allows `[\\w+=,.@-]` (ASCII letters and digits) up to 64 characters, and treats names
case-insensitively. The portal names people by the local part of their email, lower-cased
(`j.smith@a.com` → `j.smith`). When that is taken by someone else, the whole address is used
(`j.smith@b.com`), and failing that a name suffixed with a hash of the address, then a counter.
The same email and the same existing names always give the same name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable

from django.db.models.functions import Lower

IAM_USER_NAME_MAX_LENGTH = 64
_IAM_USER_NAME = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,64}$")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_+=,.@-]+")
# Bounds the search; reaching it means thousands of people share one local part.
_MAX_COUNTER = 1000


def is_valid_iam_user_name(name: str) -> bool:
    return bool(_IAM_USER_NAME.match(name))


def _sanitise(text: str) -> str:
    # Accents become their base letter (josé → jose); anything else IAM refuses becomes "-".
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_ALLOWED.sub("-", ascii_text.lower()).strip("-")


def candidate_names(email: str) -> Iterable[str]:
    """The names to try for `email`, in order: local part, whole address, hashed, numbered."""
    address = email.strip().lower()
    local, _, _ = address.partition("@")
    base = _sanitise(local) or "user"
    yield base[:IAM_USER_NAME_MAX_LENGTH]
    whole = _sanitise(address)
    if whole and len(whole) <= IAM_USER_NAME_MAX_LENGTH:
        yield whole
    digest = hashlib.sha256(address.encode()).hexdigest()[:8]
    hashed = f"{base[: IAM_USER_NAME_MAX_LENGTH - 9]}-{digest}"
    yield hashed
    for counter in range(2, _MAX_COUNTER):
        suffix = f"-{counter}"
        yield f"{hashed[: IAM_USER_NAME_MAX_LENGTH - len(suffix)]}{suffix}"


def iam_user_name_for(email: str, *, is_taken: Callable[[str], bool]) -> str:
    """The first candidate name for `email` that `is_taken` (case-insensitive) says is free."""
    for name in candidate_names(email):
        if not is_taken(name.lower()):
            return name
    raise RuntimeError(f"no free IAM user name for {email!r}")  # pragma: no cover


def names_taken_except_by(person_id: int) -> Callable[[str], bool]:
    """A check against the names the portal knows: every IAM account (whatever its state),
    and every name already decided for someone else's request."""
    from provisioning.models import AccessRequest, IamAccount

    def is_taken(name: str) -> bool:
        in_accounts = (
            IamAccount.objects.annotate(name_lower=Lower("user_name"))
            .filter(name_lower=name)
            .exists()
        )
        return (
            in_accounts
            or AccessRequest.objects.annotate(name_lower=Lower("iam_user_name"))
            .filter(name_lower=name)
            .exclude(requester_id=person_id)
            .exists()
        )

    return is_taken
