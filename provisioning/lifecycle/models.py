"""The lifecycle's tables: access reviews (recertification campaigns) and their items.

Imported at the bottom of provisioning/models.py; related models are named by string so this
module imports nothing of provisioning's own models (no cycle)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AccessReview(models.Model):
    """A campaign: every live grant (or those of chosen role-groups) reviewed by a deadline."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class AtDeadline(models.TextChoices):
        REVOKE = "revoke", "Revoke what nobody reviewed"
        ESCALATE = "escalate", "Escalate what nobody reviewed to the security admins"

    name = models.CharField(max_length=200)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    # Reviews are due by the end of this day; the next day the deadline is applied.
    deadline = models.DateField()
    at_deadline = models.CharField(max_length=16, choices=AtDeadline.choices)
    # Empty: every role-group.
    role_groups = models.ManyToManyField("provisioning.RoleGroup", blank=True, related_name="+")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    deadline_applied_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_target(self) -> str:
        return f"access_review:{self.pk}"


class ReviewItem(models.Model):
    """One grant to keep or revoke in a campaign, with its reviewer and the evidence."""

    class Route(models.TextChoices):
        MANAGER = "manager", "The holder's manager"
        SENSITIVE = "sensitive", "A security admin (sensitive role-group)"
        NO_MANAGER = "no_manager", "A security admin (no manager who may review)"
        ESCALATED = "escalated", "A security admin (escalated at the deadline)"

    class Decision(models.TextChoices):
        PENDING = "", "Not reviewed yet"
        KEEP = "keep", "Kept"
        REVOKE = "revoke", "Revoked"
        UNREVIEWED = "unreviewed", "Revoked at the deadline (not reviewed)"
        ENDED = "ended", "Ended before review"

    campaign = models.ForeignKey(AccessReview, on_delete=models.PROTECT, related_name="items")
    grant = models.ForeignKey(
        "provisioning.Grant", on_delete=models.PROTECT, related_name="review_items"
    )
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # None: any security admin (never the holder) reviews it.
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_items_to_decide",
    )
    route = models.CharField(max_length=16, choices=Route.choices)
    decision = models.CharField(
        max_length=16, choices=Decision.choices, default=Decision.PENDING, blank=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    # The holder's last AWS activity, read by the worker when the campaign starts.
    console_last_used = models.DateTimeField(null=True, blank=True)
    access_key_last_used = models.DateTimeField(null=True, blank=True)
    access_key_last_service = models.CharField(max_length=100, blank=True)
    activity_checked_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "grant"], name="one_item_per_grant")
        ]

    def __str__(self) -> str:
        return f"Review item #{self.pk} of {self.campaign_id}"

    @property
    def audit_target(self) -> str:
        return f"review_item:{self.pk}"
