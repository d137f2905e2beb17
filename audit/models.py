from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One row of the append-only, MAC-chained audit trail.

    The actor is kept by id and email rather than a foreign key: the trail must outlive and
    never constrain the rows it talks about. In Postgres a trigger refuses UPDATE, DELETE and
    TRUNCATE (see the migration)."""

    created_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=200, blank=True, db_index=True)
    # The person the event was done to or about (the requester of a request, the owner of an
    # IAM user, the leaver of an offboarding), so "everything about E" is an index lookup.
    subject_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    # HMAC-SHA256 of the row (prev_hash included) under the AUDIT_CHAIN_KEYS key `key_version`.
    hash = models.CharField(max_length=64, unique=True)
    key_version = models.CharField(max_length=32, blank=True)
    # Which fields the MAC covers: 1, the original ones; 2, those and `subject_id`. Rows
    # written before the subject existed stay 1 (their subject was filled in afterwards from
    # their target, outside the MAC); flipping the format of a row breaks its MAC.
    chain_format = models.PositiveSmallIntegerField(default=1, db_default=1)

    class Meta:
        ordering = ["-id"]
        permissions = [("view_audit", "Can view and export the audit trail")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.target}"
