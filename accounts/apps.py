from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from accounts.roles import ensure_roles

    ensure_roles(using=using)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (audit of sign-in events)

        # Roles are structure, not data: like Django's own permissions they are (re)made after
        # every migrate and flush, so a database without them cannot exist.
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="accounts.ensure_roles")
