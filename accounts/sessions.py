"""The portal's session engine (`SESSION_ENGINE = "accounts.sessions"`): Django's database
sessions, each row also holding the signed-in person's id (`PortalSession.user_id`), so
offboarding ends a leaver's sessions with one indexed DELETE (`accounts.services`). The store
lives beside its model in accounts/models.py; an engine is a module with a `SessionStore`."""

from __future__ import annotations

from accounts.models import PortalSessionStore as SessionStore
from accounts.models import signed_in_user_id

__all__ = ["SessionStore", "signed_in_user_id"]
