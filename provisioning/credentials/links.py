"""A credential link's life before its reveal: collecting sealed credentials, issuing the
token, withdrawing an issue whose email failed, revoking."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import audit
from accounts.models import User
from provisioning.credentials import crypto
from provisioning.errors import PortalError
from provisioning.models import AccessRequest, CredentialLink, IamAccount

TOKEN_BYTES = 32
# Names bound into each ciphertext's associated data, not secrets themselves.
PASSWORD_FIELD = "password"  # noqa: S105
SECRET_KEY_FIELD = "secret_access_key"  # noqa: S105

UNAVAILABLE_MESSAGES = {
    "used": "This link has already been used: credentials are shown only once. If you did not "
    "save them, ask a security admin to re-issue your credentials.",
    "expired": "This link has expired. Ask a security admin to re-issue your credentials.",
    "revoked": "This link was replaced by a newer one and no longer works. Use the link in "
    "your most recent email.",
}


class CredentialLinkUnavailable(PortalError):
    """The link exists but can no longer be revealed: used, expired or replaced."""

    def __init__(self, state: str) -> None:
        self.state = state
        super().__init__(UNAVAILABLE_MESSAGES[state])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_state(link: CredentialLink, *, now: datetime | None = None) -> str:
    """ "ready", or why the link cannot be revealed: "used", "revoked" or "expired"."""
    if link.revealed_at is not None:
        return "used"
    if link.revoked_at is not None or link.issued_at is None:
        return "revoked"
    if link.expires_at is None or link.expires_at <= (now or timezone.now()):
        return "expired"
    return "ready"


def link_target(link: CredentialLink) -> str:
    return f"iam_account:{link.iam_account_id}"


# --- Collecting sealed credentials ----------------------------------------------------------


def credential_link_pending(
    *,
    iam_account: IamAccount,
    access_request: AccessRequest | None = None,
    issued_by: User | None = None,
) -> CredentialLink:
    """The not-yet-issued link that collects one run's new credentials (made on first need)."""
    link = (
        CredentialLink.objects.filter(
            iam_account=iam_account,
            request=access_request,
            issued_at__isnull=True,
            revoked_at__isnull=True,
        )
        .order_by("pk")
        .first()
    )
    if link is None:
        link = CredentialLink.objects.create(
            recipient_id=iam_account.owner_id,
            iam_account=iam_account,
            request=access_request,
            issued_by=issued_by,
        )
    return link


def credential_link_seal_password(*, link: CredentialLink, password: str) -> None:
    link.sealed_password = crypto.seal(password, link_id=link.pk, field=PASSWORD_FIELD)
    link.save(update_fields=["sealed_password"])


def credential_link_sealed_password(*, link: CredentialLink) -> str | None:
    if link.sealed_password is None:
        return None
    return crypto.unseal(link.sealed_password, link_id=link.pk, field=PASSWORD_FIELD)


def credential_link_seal_access_key(
    *, link: CredentialLink, access_key_id: str, secret_access_key: str
) -> None:
    link.access_key_id = access_key_id
    link.sealed_secret_key = crypto.seal(secret_access_key, link_id=link.pk, field=SECRET_KEY_FIELD)
    link.save(update_fields=["access_key_id", "sealed_secret_key"])


def has_credentials(link: CredentialLink) -> bool:
    return link.sealed_password is not None or link.sealed_secret_key is not None


# --- Issuing and revoking -------------------------------------------------------------------


def credential_link_issue(*, link: CredentialLink, actor: User | None = None) -> str:
    """Give the link its token and expiry, in the caller's transaction. Returns the token:
    the caller emails it and forgets it; the database keeps only its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    link.token_hash = token_hash(token)
    link.issued_at = now
    link.expires_at = now + timedelta(hours=settings.CREDENTIAL_LINK_TTL_HOURS)
    link.issued_by = actor if actor is not None else link.issued_by
    link.save(update_fields=["token_hash", "issued_at", "expires_at", "issued_by"])
    audit.record(
        "credential.issued",
        actor=actor,
        target=link_target(link),
        subject=link.recipient_id,
        data={
            "link": link.pk,
            "request": link.request_id,
            "recipient": link.recipient.email,
            "console_password_included": link.sealed_password is not None,
            "access_key_id": link.access_key_id or None,
            "expires_at": link.expires_at,
        },
    )
    return token


def credential_link_withdraw(*, link: CredentialLink) -> None:
    """Undo an issue whose email could not be sent: nobody has the token, so the link goes
    back to collecting, keeping its sealed credentials for the next attempt."""
    CredentialLink.objects.filter(pk=link.pk, revealed_at__isnull=True).update(
        token_hash=None, issued_at=None, expires_at=None
    )
    audit.record(
        "credential.withdrawn",
        target=link_target(link),
        subject=link.recipient_id,
        data={"link": link.pk},
    )


def _record_revoked(
    link_id: int,
    iam_account_id: int,
    recipient_id: int,
    *,
    actor: User | str | None,
    reason: str,
    offboarding_id: int | None,
    ip: str | None,
) -> None:
    audit.record(
        "credential.revoked",
        actor=actor,
        target=f"iam_account:{iam_account_id}",
        subject=recipient_id,
        data={"link": link_id, "reason": reason, "offboarding": offboarding_id},
        ip=ip,
    )


def _revoke(link_id: int) -> bool:
    """Kill the link if it is still unrevealed and alive, wiping what it carried."""
    return bool(
        CredentialLink.objects.filter(
            pk=link_id, revealed_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now(), sealed_password=None, sealed_secret_key=None)
    )


def credential_link_revoke(
    *, link: CredentialLink, actor: User | None = None, reason: str, ip: str | None = None
) -> bool:
    """Kill a link that has not been revealed and wipe what it carried. False if already dead."""
    with transaction.atomic():
        revoked = _revoke(link.pk)
        if revoked:
            _record_revoked(
                link.pk,
                link.iam_account_id,
                link.recipient_id,
                actor=actor,
                reason=reason,
                offboarding_id=None,
                ip=ip,
            )
    return revoked


def credential_links_revoke_for_leaver(
    *, person: User, actor: User | str, offboarding_id: int, ip: str | None = None
) -> int:
    """Every unrevealed link to the person or to their IAM users, revoked and wiped in the
    caller's transaction (an offboarding). Returns how many."""
    unused = (
        CredentialLink.objects.filter(
            Q(recipient=person) | Q(iam_account__owner=person),
            revealed_at__isnull=True,
            revoked_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", "iam_account_id", "recipient_id")
    )
    revoked = 0
    for link_id, iam_account_id, recipient_id in unused:
        if _revoke(link_id):
            revoked += 1
            _record_revoked(
                link_id,
                iam_account_id,
                recipient_id,
                actor=actor,
                reason="recipient offboarded",
                offboarding_id=offboarding_id,
                ip=ip,
            )
    return revoked


def credential_links_revoke_for_account(
    *, iam_account_id: int, reason: str, actor: User | None = None
) -> int:
    """Every unrevealed link to one IAM user's credentials, revoked and wiped in the caller's
    transaction (the credentials it carries were just removed in AWS). Returns how many."""
    unused = (
        CredentialLink.objects.filter(
            iam_account_id=iam_account_id, revealed_at__isnull=True, revoked_at__isnull=True
        )
        .order_by("pk")
        .values_list("pk", "recipient_id")
    )
    revoked = 0
    for link_id, recipient_id in unused:
        if _revoke(link_id):
            revoked += 1
            _record_revoked(
                link_id,
                iam_account_id,
                recipient_id,
                actor=actor,
                reason=reason,
                offboarding_id=None,
                ip=None,
            )
    return revoked
