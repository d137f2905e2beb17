"""The tables of SCIM: the identity provider's bearer tokens, the SCIM view of a person, and
the leavers it announced that HR has still to confirm."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ScimToken(models.Model):
    """A bearer token the identity provider presents. Only its SHA-256 is kept."""

    class Scope(models.TextChoices):
        READ = "read", "Read people"
        WRITE = "write", "Create and update people"
        OFFBOARD = "offboard", "Deactivate and delete people (leavers)"

    name = models.CharField(max_length=64, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def actor(self) -> str:
        """Who acted, as the audit trail names a token: it is not a person."""
        return f"scim:{self.name}"

    @property
    def audit_target(self) -> str:
        return f"scim_token:{self.pk}"


class ScimIdentity(models.Model):
    """What the identity provider last sent for a person, beyond the directory's own fields
    (those are read from the person, so HR's edits show): its userName, externalId and the
    rest of the resource, without any password."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scim_identity"
    )
    user_name = models.CharField(max_length=254, unique=True)
    external_id = models.CharField(max_length=254, blank=True, db_index=True)
    resource = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # DELETE /Users/{id}: the person stays (people are never deleted), SCIM no longer sees them.
    deleted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.user_name


class LeaverNotice(models.Model):
    """The identity provider says a person has left (SCIM_LEAVERS=confirm): their portal
    account is closed already, and HR confirms the offboarding of their AWS access."""

    class Reason(models.TextChoices):
        DEACTIVATED = "deactivated", "marked inactive"
        DELETED = "deleted", "deleted"

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="leaver_notices"
    )
    source = models.CharField(max_length=80)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.source} says {self.person_id} has left"
