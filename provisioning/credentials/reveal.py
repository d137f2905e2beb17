"""Revealing a credential link, once, to its recipient."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User
from common.csv import SafeWriter
from provisioning import aws
from provisioning.credentials import crypto
from provisioning.credentials.links import (
    PASSWORD_FIELD,
    SECRET_KEY_FIELD,
    CredentialLinkUnavailable,
    link_state,
    link_target,
    token_hash,
)
from provisioning.errors import CredentialLinkNotFound
from provisioning.models import CredentialLink, IamAccount


@dataclass(frozen=True)
class RevealedCredentials:
    user_name: str
    console_url: str
    password: str | None
    access_key_id: str
    secret_access_key: str | None

    def csv(self) -> str:
        """The credentials in the layout of the CSV file AWS's console offers. Every cell goes
        through the one escaper: generated passwords never start with a formula character,
        and AWS's secret keys are 40 base64 characters, which that leaves alone unless one
        begins with "+" (then the file shows it with a leading apostrophe, as text)."""
        out = io.StringIO()
        writer = SafeWriter(out, lineterminator="\n")
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


def credential_link_for_recipient(*, token: str, actor: User) -> CredentialLink:
    """The link behind `token`, if `actor` is its recipient; for anyone else it does not exist."""
    link = (
        CredentialLink.objects.select_related("iam_account")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None or link.recipient_id != actor.pk:
        raise CredentialLinkNotFound("There is no such credential link.")
    return link


def credential_link_reveal(
    *, token: str, actor: User, ip: str | None = None
) -> RevealedCredentials:
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
            target=link_target(link),
            subject=link.recipient_id,
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
