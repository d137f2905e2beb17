"""The identity provider's SCIM bearer tokens: made by a security admin (or `manage.py
scim_token create`), shown once, kept only as a SHA-256, revocable, each use recorded."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from provisioning.errors import PortalError
from provisioning.models import ScimToken

TOKEN_PREFIX = "scim_"  # noqa: S105 (a prefix that makes a leaked token recognisable)
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ALL_SCOPES = tuple(ScimToken.Scope.values)


class ScimTokenError(PortalError):
    """A token change the portal refuses."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its one showing: the plain value exists only here."""

    token: ScimToken
    value: str


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _require_security_admin(actor: User | None) -> None:
    """A security admin (None is the command line, on the operator's authority)."""
    if actor is not None and not (actor.is_active and roles.is_security_admin(actor)):
        raise ScimTokenError("Only a security admin can manage SCIM tokens.")


def scim_token_create(
    *, actor: User | None, name: str, scopes: list[str], ip: str | None = None
) -> IssuedToken:
    """A new token named `name` (lower-case, e.g. "okta") with these scopes."""
    _require_security_admin(actor)
    name = name.strip().lower()
    if not NAME_PATTERN.match(name):
        raise ScimTokenError(
            "Name the token with lower-case letters, digits, dots, dashes or underscores "
            "(at most 64), e.g. okta or entra-prod."
        )
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown or not scopes:
        raise ScimTokenError(f"Choose the token's scopes among {', '.join(ALL_SCOPES)}.")
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        if ScimToken.objects.filter(name=name).exists():
            raise ScimTokenError(
                f"There is already a token named {name}: revoke it or pick another."
            )
        token = ScimToken.objects.create(
            name=name,
            token_hash=token_hash(value),
            scopes=[scope for scope in ALL_SCOPES if scope in scopes],
            created_by=actor,
        )
        audit.record(
            "scim.token_created",
            actor=actor,
            target=token.audit_target,
            data={"name": name, "scopes": token.scopes},
            ip=ip,
        )
    return IssuedToken(token=token, value=value)


def scim_token_revoke(*, actor: User | None, token: ScimToken, ip: str | None = None) -> bool:
    """Revoke a token at once; False when it was revoked already."""
    _require_security_admin(actor)
    with transaction.atomic():
        revoked = ScimToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor
        )
        if revoked:
            audit.record(
                "scim.token_revoked",
                actor=actor,
                target=token.audit_target,
                data={"name": token.name},
                ip=ip,
            )
    return bool(revoked)


def scim_token_authenticate(authorization: str | None) -> ScimToken | None:
    """The live token of an `Authorization: Bearer ...` header, or None. Marks it used."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip().startswith(TOKEN_PREFIX):
        return None
    token = ScimToken.objects.filter(
        token_hash=token_hash(value.strip()), revoked_at__isnull=True
    ).first()
    if token is not None:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token
