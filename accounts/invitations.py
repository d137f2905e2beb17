"""A new person's invitation: an email with a link to set their first password.

The link is Django's password-reset token under its own salt and lifetime
(INVITATION_LINK_DAYS): it holds no secret of ours, and it stops working once used (the hash
covers the password and the last sign-in) or expired. Sending it again replaces the person's
unusable password, so only the newest link works. Under SSO_ONLY the invitation says to sign
in with the identity provider, with no link. `person.invited` is the one audit action, built
here; `person.invitation_accepted` when the person sets the password.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

import audit
from accounts.errors import PeopleError
from accounts.models import User
from accounts.roles import require_people_manager
from accounts.selectors import is_current
from common.emails import send_templated_email

SECONDS_PER_DAY = 24 * 3600


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, salted apart from "forgot password" and valid for
    INVITATION_LINK_DAYS instead of PASSWORD_RESET_TIMEOUT."""

    key_salt = "accounts.invitations.InvitationTokenGenerator"

    def check_token(self, user: Any, token: str | None) -> bool:
        if not (user and token):
            return False
        try:
            timestamp = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        signed = any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        )
        age = self._num_seconds(self._now()) - timestamp
        return signed and age <= settings.INVITATION_LINK_DAYS * SECONDS_PER_DAY


invitation_tokens = InvitationTokenGenerator()


def invitation_url(person: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(person.pk))
    path = reverse("invitation_accept", args=[uid, invitation_tokens.make_token(person)])
    return f"{settings.PORTAL_BASE_URL}{path}"


def person_from_invitation(uidb64: str, token: str) -> User | None:
    """The person the link is for, if it still works (not used, not expired, still here)."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    person = User.objects.filter(pk=pk).first()
    if person is None or not is_current(person) or not invitation_tokens.check_token(person, token):
        return None
    return person


def _send(person_id: int) -> None:
    person = User.objects.get(pk=person_id)
    context: dict[str, Any] = {
        "person": person,
        "sso_only": settings.SSO_ONLY,
        "days": settings.INVITATION_LINK_DAYS,
        "sign_in_url": f"{settings.PORTAL_BASE_URL}{reverse('account_login')}",
    }
    if not settings.SSO_ONLY:
        context["url"] = invitation_url(person)
    send_templated_email("invitation", [person.email], context)


def invitations_send(
    people: Iterable[User], *, actor: User | None, via: str, ip: str | None = None
) -> None:
    """In the caller's transaction: one `person.invited` per person; each email goes once it
    has committed (one failing address does not stop the others)."""
    for person in people:
        audit.record(
            "person.invited",
            actor=actor,
            target=person.audit_target,
            data={
                "email": person.email,
                "via": via,
                "sign_in": "sso" if settings.SSO_ONLY else "password link",
                "link_days": None if settings.SSO_ONLY else settings.INVITATION_LINK_DAYS,
            },
            ip=ip,
        )
        transaction.on_commit(functools.partial(_send, person.pk), robust=True)


def person_invite(*, actor: User, person: User, ip: str | None = None) -> None:
    """HR sends the invitation again (the first expired or was lost). Earlier links stop
    working. Refused for a leaver, and for someone who has already set a password (they use
    "forgot password")."""
    require_people_manager(actor)
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=person.pk)
        if not is_current(person):
            raise PeopleError(f"{person} has left the organisation: no invitation is sent.")
        if person.has_usable_password():
            raise PeopleError(
                f"{person} has already set a password; if they forgot it, they can use "
                "“Forgot your password?” on the sign-in page."
            )
        if not settings.SSO_ONLY:
            # A new unusable password changes the token's hash: older links stop working.
            person.set_unusable_password()
            person.save(update_fields=["password"])
        invitations_send([person], actor=actor, via="resent", ip=ip)


def invitation_accept(*, person: User, password: str, ip: str | None = None) -> None:
    """The person sets their first password through the link (the form validated it)."""
    with transaction.atomic():
        person.set_password(password)
        person.save(update_fields=["password"])
        audit.record(
            "person.invitation_accepted",
            actor=person,
            target=person.audit_target,
            data={"email": person.email},
            ip=ip,
        )
