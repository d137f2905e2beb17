"""The credential email: the one-time link to new credentials. The link, never a secret."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from common.emails import send_templated_email
from provisioning.models import CredentialLink


def credential_link_sent(
    *, link: CredentialLink, token: str, reissued: bool = False, rotated: bool = False
) -> None:
    """To the owner: the one-time link to their new credentials (or their rotated key)."""
    send_templated_email(
        "credential_link",
        [link.recipient.email],
        {
            "link": link,
            "path": reverse("credential_link", args=[token]),
            "reissued": reissued,
            "rotated": rotated,
            "overlap_days": settings.KEY_ROTATION_OVERLAP_DAYS,
            "console": link.sealed_password is not None,
            "access_key": link.sealed_secret_key is not None,
        },
    )
