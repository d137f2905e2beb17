from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, cast

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("A person needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class EmploymentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    LEFT = "left", "Left"


class ApprovalEmails(models.TextChoices):
    EACH = "each", "An email for each request"
    DAILY = "daily", "One digest a day"


class User(AbstractBaseUser, PermissionsMixin):
    """A person in the organisation. Signs in with their email; never deleted, only offboarded."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=100, blank=True)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    employment_status = models.CharField(
        max_length=16, choices=EmploymentStatus.choices, default=EmploymentStatus.ACTIVE
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    # Who last placed this person in the org chart (created them, set their manager) and
    # when: for ORG_CHART_COOLDOWN_DAYS they may not approve this person's requests.
    placed_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(null=True, blank=True)
    # How an approver hears of requests waiting for them.
    approval_emails = models.CharField(
        max_length=8, choices=ApprovalEmails.choices, default=ApprovalEmails.EACH
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["full_name", "email"]
        # The people directory's order: its first page read off the index, not sorted from
        # everyone (accounts/selectors.py people_search).
        indexes = [models.Index(fields=["full_name", "email", "id"], name="user_directory_order")]
        permissions = [
            ("manage_people", "Can view and edit the people directory and import people"),
            ("offboard_people", "Can offboard a leaver"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def audit_target(self) -> str:
        return f"person:{self.pk}"

    def recently_placed_by(self, actor: User, *, now: datetime | None = None) -> bool:
        """Whether `actor` placed this person in the org chart within the cool-down."""
        if self.placed_by_id is None or self.placed_by_id != actor.pk or self.placed_at is None:
            return False
        cutoff = (now or timezone.now()) - timedelta(days=settings.ORG_CHART_COOLDOWN_DAYS)
        return self.placed_at >= cutoff

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]


class PortalSession(AbstractBaseSession):
    """A signed-in browser's session (Django's database sessions, served by
    `accounts.sessions`), with the person it belongs to in an indexed column: a leaver's
    sessions are found by one indexed DELETE instead of decoding every session."""

    user_id = models.IntegerField(null=True, db_index=True)

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        return PortalSessionStore


def signed_in_user_id(data: dict[str, Any]) -> int | None:
    """The id of the person a session's data says is signed in, or None."""
    try:
        return int(data[SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return None


class PortalSessionStore(DatabaseSessionStore):
    """Django's database session store (the engine is `accounts.sessions`), writing
    `PortalSession` rows with their person's id."""

    @property
    def key_salt(self) -> str:
        # Signed as Django's database sessions are: the rows the upgrade moved across still read.
        return "django.contrib.sessions.SessionStore"

    @classmethod
    def get_model_class(cls) -> type[PortalSession]:
        return PortalSession

    def create_model_instance(self, data: dict[str, Any]) -> PortalSession:
        session = cast(PortalSession, super().create_model_instance(data))
        session.user_id = signed_in_user_id(data)
        return session

    async def acreate_model_instance(self, data: dict[str, Any]) -> PortalSession:
        session = cast(PortalSession, await super().acreate_model_instance(data))
        session.user_id = signed_in_user_id(data)
        return session
