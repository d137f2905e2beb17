"""The offboarding of a leaver: its steps, its report, who asked and who confirmed."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Offboarding(models.Model):
    class Mode(models.TextChoices):
        DELETE = "delete", "Delete the IAM users"
        DISABLE = "disable", "Disable and keep the IAM users (retention)"

    class Status(models.TextChoices):
        # A privileged leaver (HR, security admin, auditor): nothing is cut until a security
        # admin other than the leaver and the HR person confirms.
        AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting a security admin's confirmation"
        DECLINED = "declined", "Declined by a security admin"
        PENDING = "pending", "Pending teardown"
        IN_PROGRESS = "in_progress", "Tearing down"
        COMPLETED = "completed", "Completed"
        INCOMPLETE = "incomplete", "Incomplete"

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offboardings"
    )
    # HR who clicked Offboard, or None when the identity provider said the person left
    # (SCIM_LEAVERS=offboard): `started_via` then names it ("scim:okta").
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_via = models.CharField(max_length=80, blank=True)
    # For a privileged leaver: the security admin who confirmed (or declined) HR's request.
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.DELETE)
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    steps_done = models.JSONField(default=list, blank=True)
    report = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    access_cut_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Offboarding #{self.pk} of {self.person_id}"

    @property
    def audit_target(self) -> str:
        return f"offboarding:{self.pk}"

    @property
    def started_by_label(self) -> str:
        """Who started it, for pages and emails: HR's email, or the identity provider."""
        if self.started_by is not None:
            return self.started_by.email
        return f"the identity provider ({self.started_via})" if self.started_via else "the portal"


class OffboardingSchedule(models.Model):
    """HR's offboarding of a person on their last working day, instead of now. Beat reminds
    HR the day before and, at the end of that day (midnight in TIME_ZONE), starts it through
    `offboarding_start`, as HR's click would: a privileged leaver still waits for a security
    admin then."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        STARTED = "started", "Started"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Could not start"

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offboarding_schedules"
    )
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    last_working_day = models.DateField()
    mode = models.CharField(
        max_length=16, choices=Offboarding.Mode.choices, default=Offboarding.Mode.DELETE
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.SCHEDULED, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    offboarding = models.OneToOneField(
        Offboarding, null=True, blank=True, on_delete=models.PROTECT, related_name="schedule"
    )
    failure_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["last_working_day", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status="scheduled"),
                name="one_scheduled_offboarding_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"Offboarding of {self.person_id} on {self.last_working_day}"

    @property
    def audit_target(self) -> str:
        return f"offboarding_schedule:{self.pk}"
