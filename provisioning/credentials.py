"""The one-time credential link: how a person receives a new password or access key.

A link starts as a row collecting a run's new credentials, sealed (provisioning/crypto.py),
with no token. Issuing it draws a 32-byte random token, keeps only its SHA-256 and sets the
expiry; the token itself travels once, in the email. Revealing claims the link with one
conditional UPDATE (of two concurrent reveals exactly one wins) and wipes the ciphertext in
the same transaction. Re-issuing (security admins) kills the old link and makes new
credentials, since the old ones may never have reached their owner.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from provisioning import aws, crypto, notifications
from provisioning.errors import PortalError
from provisioning.models import AccessKeyRecord, AccessRequest, CredentialLink, IamAccount
from provisioning.passwords import PasswordPolicy, password_generate

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
# Names bound into each ciphertext's associated data, not secrets themselves.
PASSWORD_FIELD = "password"  # noqa: S105
SECRET_KEY_FIELD = "secret_access_key"  # noqa: S105


class CredentialLinkNotFound(PortalError):
    """No such link for this person (someone else's links do not exist, as far as they know)."""


class CredentialLinkUnavailable(PortalError):
    """The link exists but can no longer be revealed: used, expired or replaced."""

    def __init__(self, state: str) -> None:
        self.state = state
        super().__init__(UNAVAILABLE_MESSAGES[state])


class CredentialsNotAllowed(PortalError):
    """The actor may not re-issue credentials."""


# A request's note when the worker may have died while sending its credential email.
EMAIL_UNCONFIRMED = (
    "Access is active, but the worker stopped while sending the credential email, so it may "
    "not have arrived. If the person has no link, re-issue their credentials."
)

UNAVAILABLE_MESSAGES = {
    "used": "This link has already been used: credentials are shown only once. If you did not "
    "save them, ask a security admin to re-issue your credentials.",
    "expired": "This link has expired. Ask a security admin to re-issue your credentials.",
    "revoked": "This link was replaced by a newer one and no longer works. Use the link in "
    "your most recent email.",
}


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


def _target(link: CredentialLink) -> str:
    return f"iam_account:{link.iam_account_id}"


# --- Collecting sealed credentials ----------------------------------------------------------


def credential_link_pending(
    *, iam_account: IamAccount, access_request: Any = None, issued_by: Any = None
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


def credential_link_issue(*, link: CredentialLink, actor: Any = None) -> str:
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
        target=_target(link),
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
    audit.record("credential.withdrawn", target=_target(link), data={"link": link.pk})


def credential_link_revoke(*, link: CredentialLink, actor: Any = None, reason: str) -> bool:
    """Kill a link that has not been revealed and wipe what it carried. False if already dead."""
    with transaction.atomic():
        revoked = CredentialLink.objects.filter(
            pk=link.pk, revealed_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now(), sealed_password=None, sealed_secret_key=None)
        if revoked:
            audit.record(
                "credential.revoked",
                actor=actor,
                target=_target(link),
                data={"link": link.pk, "reason": reason},
            )
    return bool(revoked)


# --- Revealing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevealedCredentials:
    user_name: str
    console_url: str
    password: str | None
    access_key_id: str
    secret_access_key: str | None

    def csv(self) -> str:
        """The credentials in the layout of the CSV file AWS's console offers."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["User name", "Password", "Access key ID", "Secret access key", "Console login link"]
        )
        writer.writerow(
            [
                self.user_name,
                self.password or "",
                self.access_key_id if self.secret_access_key else "",
                self.secret_access_key or "",
                self.console_url if self.password else "",
            ]
        )
        return out.getvalue()


def account_id_of(iam_account: IamAccount) -> str:
    # arn:aws:iam::<account>:user/<name>
    parts = iam_account.arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def credential_link_for_recipient(*, token: str, actor: Any) -> CredentialLink:
    """The link behind `token`, if `actor` is its recipient; for anyone else it does not exist."""
    link = (
        CredentialLink.objects.select_related("iam_account")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None or link.recipient_id != actor.pk:
        raise CredentialLinkNotFound("There is no such credential link.")
    return link


def credential_link_reveal(*, token: str, actor: Any, ip: str | None = None) -> RevealedCredentials:
    """Reveal the credentials once.

    1. Only the recipient: anyone else gets "not found".
    2. Claim: one conditional UPDATE sets `revealed_at` if the link is unused, not revoked and
       not expired; of concurrent reveals exactly one changes the row.
    3. In the same transaction, open the sealed values and wipe them, and audit the reveal.
    A failure to open (say, a key removed too early) rolls back, leaving the link usable."""
    link = credential_link_for_recipient(token=token, actor=actor)
    now = timezone.now()
    with transaction.atomic():
        claimed = CredentialLink.objects.filter(
            pk=link.pk,
            recipient=actor,
            revealed_at__isnull=True,
            revoked_at__isnull=True,
            issued_at__isnull=False,
            expires_at__gt=now,
        ).update(revealed_at=now)
        if claimed != 1:
            link.refresh_from_db()
            raise CredentialLinkUnavailable(link_state(link, now=now))
        sealed_password, sealed_secret = (
            CredentialLink.objects.filter(pk=link.pk)
            .values_list("sealed_password", "sealed_secret_key")
            .get()
        )
        password = (
            crypto.unseal(sealed_password, link_id=link.pk, field=PASSWORD_FIELD)
            if sealed_password is not None
            else None
        )
        secret = (
            crypto.unseal(sealed_secret, link_id=link.pk, field=SECRET_KEY_FIELD)
            if sealed_secret is not None
            else None
        )
        CredentialLink.objects.filter(pk=link.pk).update(
            sealed_password=None, sealed_secret_key=None
        )
        audit.record(
            "credential.revealed",
            actor=actor,
            target=_target(link),
            data={
                "link": link.pk,
                "console_password_included": password is not None,
                "access_key_id": link.access_key_id if secret else None,
            },
            ip=ip,
        )
    return RevealedCredentials(
        user_name=link.iam_account.user_name,
        console_url=aws.console_signin_url(account_id_of(link.iam_account)),
        password=password,
        access_key_id=link.access_key_id,
        secret_access_key=secret,
    )


# --- Re-issuing (security admins) -----------------------------------------------------------


def _rotate_access_keys(link: CredentialLink, account: IamAccount, actor: Any) -> None:
    """A new access key sealed into `link`, then the portal's old keys deleted. Keys of the
    user the portal never recorded go first, which also makes room under AWS's two-key cap."""
    user_name = account.user_name
    old = list(account.access_keys.filter(deleted_at__isnull=True).order_by("created_at"))
    recorded = {record.access_key_id for record in old}
    with aws.recording() as calls:
        for key_id in aws.access_key_ids(user_name):
            if key_id not in recorded:
                aws.delete_access_key(user_name, key_id)
        key_id, secret = aws.create_access_key(user_name)
    with transaction.atomic():
        AccessKeyRecord.objects.create(iam_account=account, access_key_id=key_id)
        credential_link_seal_access_key(link=link, access_key_id=key_id, secret_access_key=secret)
        audit.record(
            "iam.access_key.created",
            actor=actor,
            target=_target(link),
            data={
                "iam_user": user_name,
                "access_key_id": key_id,
                "reason": "credentials re-issued",
                "aws_request_ids": calls.request_ids,
            },
        )
    for record in old:
        with aws.recording() as calls:
            aws.delete_access_key(user_name, record.access_key_id)
        with transaction.atomic():
            AccessKeyRecord.objects.filter(pk=record.pk).update(deleted_at=timezone.now())
            audit.record(
                "iam.access_key.deleted",
                actor=actor,
                target=_target(link),
                data={
                    "iam_user": user_name,
                    "access_key_id": record.access_key_id,
                    "reason": "replaced when credentials were re-issued",
                    "aws_request_ids": calls.request_ids,
                },
            )


def credential_link_reissue(
    *, iam_account_id: int, actor: Any, ip: str | None = None
) -> CredentialLink:
    """New credentials and a new link for an IAM user, the old link dead.

    1. Guard: a security admin; an active IAM user of an active person.
    2. Revoke every link of the user not yet revealed, and wipe it.
    3. Console: a new password, sealed and committed before UpdateLoginProfile sets it
       (reset required at first sign-in).
    4. Programmatic: a new access key sealed with its record, then the old keys deleted.
    5. Issue the link and email it to the owner after the commit."""
    if not actor.has_perm(roles.OPERATE_PROVISIONING):
        raise CredentialsNotAllowed("Only security admins re-issue credentials.")
    account = (
        IamAccount.objects.select_related("owner")
        .filter(pk=iam_account_id, status=IamAccount.Status.ACTIVE)
        .first()
    )
    if account is None:
        raise PortalError("There is no active IAM user to re-issue credentials for.")
    if not account.owner.is_active:
        raise PortalError(f"{account.owner} has left: their credentials are not re-issued.")
    for old in CredentialLink.objects.filter(
        iam_account=account, revealed_at__isnull=True, revoked_at__isnull=True
    ):
        credential_link_revoke(link=old, actor=actor, reason="replaced by a re-issued link")
    try:
        with aws.recording() as calls:
            console = aws.login_profile_exists(account.user_name)
        has_keys = account.access_keys.filter(deleted_at__isnull=True).exists()
        if not console and not has_keys:
            raise PortalError(
                f"IAM user {account.user_name} has neither a console password nor an access "
                "key from the portal: there is nothing to re-issue."
            )
        link = CredentialLink.objects.create(
            recipient=account.owner, iam_account=account, issued_by=actor
        )
        if console:
            with aws.recording() as policy_calls:
                policy = PasswordPolicy.from_aws(aws.account_password_policy())
            password = password_generate(policy)
            # Sealed and committed before AWS hears of it: a crash in between leaves a password
            # we can still hand over, never one set in AWS that nobody knows.
            credential_link_seal_password(link=link, password=password)
            with aws.recording() as profile_calls:
                aws.update_login_profile(account.user_name, password)
            audit.record(
                "iam.login_profile.updated",
                actor=actor,
                target=_target(link),
                data={
                    "iam_user": account.user_name,
                    "password_reset_required": True,
                    "reason": "credentials re-issued",
                    "aws_request_ids": calls.request_ids
                    + policy_calls.request_ids
                    + profile_calls.request_ids,
                },
            )
        if has_keys:
            _rotate_access_keys(link, account, actor)
    except aws.AwsError as error:
        raise PortalError(f"AWS refused while re-issuing credentials: {error}") from None
    with transaction.atomic():
        token = credential_link_issue(link=link, actor=actor)
        AccessRequest.objects.filter(
            iam_account=account,
            status=AccessRequest.Status.ACTIVE,
            failure_reason=EMAIL_UNCONFIRMED,
        ).update(failure_reason="")
        audit.record(
            "credential.reissued",
            actor=actor,
            target=_target(link),
            data={"link": link.pk, "iam_user": account.user_name, "recipient": account.owner.email},
            ip=ip,
        )
    try:
        notifications.credential_link_sent(link=link, token=token, reissued=True)
    except OSError:
        logger.exception("Could not email the re-issued credential link #%s", link.pk)
        raise PortalError(
            f"New credentials were made for {account.user_name}, but the email with the link "
            "could not be sent. Re-issue again once email works."
        ) from None
    return link
