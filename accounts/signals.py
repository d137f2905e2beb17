"""Sign-in events and MFA changes land in the audit trail."""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa.signals import (
    authentication_failed,
    authenticator_added,
    authenticator_removed,
    authenticator_reset,
)
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

import audit
from accounts.middleware import LAST_SEEN_SESSION_KEY
from accounts.models import User
from common.http import client_ip


@receiver(user_logged_in)
def _signed_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    # The idle clock of privileged sessions starts at sign-in (accounts/middleware.py).
    if hasattr(request, "session"):
        request.session[LAST_SEEN_SESSION_KEY] = time.time()
    audit.record("auth.signed_in", actor=user, target=f"person:{user.pk}", ip=client_ip(request))


@receiver(user_logged_out)
def _signed_out(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit.record(
            "auth.signed_out", actor=user, target=f"person:{user.pk}", ip=client_ip(request)
        )


@receiver(user_login_failed)
def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Only the identifier tried: `credentials` also holds the password, which never leaves here.
    tried = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit.record("auth.sign_in_failed", data={"email": tried}, ip=client_ip(request))


def _mfa_changed(action: str, request: HttpRequest, authenticator: Any, **kwargs: Any) -> None:
    user = authenticator.user
    audit.record(
        action,
        actor=user,
        target=f"person:{user.pk}",
        data={"type": authenticator.type},
        ip=client_ip(request),
    )


@receiver(authenticator_added)
def _mfa_added(sender: Any, request: HttpRequest, authenticator: Any, **kwargs: Any) -> None:
    _mfa_changed("mfa.added", request, authenticator)


@receiver(authenticator_removed)
def _mfa_removed(sender: Any, request: HttpRequest, authenticator: Any, **kwargs: Any) -> None:
    _mfa_changed("mfa.removed", request, authenticator)


@receiver(authenticator_reset)
def _mfa_reset(sender: Any, request: HttpRequest, authenticator: Any, **kwargs: Any) -> None:
    _mfa_changed("mfa.recovery_codes_reset", request, authenticator)


@receiver(authentication_failed)
def _mfa_code_refused(
    sender: Any,
    request: HttpRequest | None = None,
    user: User | None = None,
    authenticator: Any = None,
    reauthentication: bool = False,
    **kwargs: Any,
) -> None:
    # Who, with which kind of code: never the code typed.
    audit.record(
        "mfa.code_refused",
        actor=user,
        target=user.audit_target if user is not None else "",
        data={
            "type": getattr(authenticator, "type", None),
            "reauthentication": reauthentication,
        },
        ip=client_ip(request),
    )
