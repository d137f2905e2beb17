"""The guardrails' tables: MFA enrolments, key rotations, the notices sent (which make every
reminder and cut happen once), key-age extensions, drift findings, compliance snapshots, and
the runs of the periodic jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# Imported by provisioning/models.py (at its end), so this module names the tables it points
# at instead of importing them: no import cycle.
__all__ = [
    "ComplianceSnapshot",
    "DriftFinding",
    "GuardrailNotice",
    "GuardrailRun",
    "KeyAgeExtension",
    "KeyRotation",
    "MfaEnrolment",
]


class GuardrailRun(models.Model):
    """One run of a periodic job (or a security admin's "Scan now"). A run is claimed with a
    conditional UPDATE and records its steps, so two beats never do it twice and a run that
    died resumes where it stopped."""

    class Job(models.TextChoices):
        KEY_AGE = "key_age", "Access key age"
        UNUSED = "unused_credentials", "Unused credentials"
        DRIFT = "drift", "Drift scan"
        COMPLIANCE = "compliance", "Compliance check"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.CharField(max_length=32, choices=Job.choices)
    # "2026-12-02" for the daily run, "manual-<timestamp>" for one a person asked for.
    period = models.CharField(max_length=40)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    steps_done = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["job", "period"], name="one_guardrail_run_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.period}"

    @property
    def audit_target(self) -> str:
        return f"guardrail_run:{self.pk}"


class MfaEnrolment(models.Model):
    """A virtual MFA device being set up for an IAM user. The seed is sealed (AES-256-GCM)
    while the person scans it and wiped once the device is enabled or abandoned."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for two codes"
        ENABLED = "enabled", "Enabled"
        ABANDONED = "abandoned", "Abandoned"

    iam_account = models.ForeignKey(
        "provisioning.IamAccount", on_delete=models.CASCADE, related_name="mfa_enrolments"
    )
    serial_number = models.CharField(max_length=256)
    sealed_seed = models.BinaryField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    refused_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    enabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["iam_account"],
                condition=Q(status="pending"),
                name="one_pending_mfa_enrolment_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"MFA enrolment #{self.pk} of {self.iam_account_id}"


class KeyRotation(models.Model):
    """A person's rotation of their access key: a new key through a one-time link, the old
    one kept for an overlap, then deactivated and deleted."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Making the new key"
        ROTATING = "rotating", "Making the new key"
        OVERLAP = "overlap", "New key sent; old key still active"
        FINISHING = "finishing", "Removing the old key"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    OPEN_STATUSES = (Status.REQUESTED, Status.ROTATING, Status.OVERLAP, Status.FINISHING)

    iam_account = models.ForeignKey(
        "provisioning.IamAccount", on_delete=models.CASCADE, related_name="key_rotations"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    old_access_key_id = models.CharField(max_length=128)
    new_access_key_id = models.CharField(max_length=128, blank=True)
    link = models.ForeignKey(
        "provisioning.CredentialLink",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    steps_done = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    overlap_ends_at = models.DateTimeField(null=True, blank=True)
    new_key_first_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["iam_account"],
                condition=Q(status__in=["requested", "rotating", "overlap", "finishing"]),
                name="one_open_key_rotation_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"Key rotation #{self.pk} of {self.iam_account_id}"

    @property
    def audit_target(self) -> str:
        return f"key_rotation:{self.pk}"


class GuardrailNotice(models.Model):
    """A reminder, warning or cut the guardrails made, once: its `key` is unique, so a job
    that runs again (or twice at once) never sends the same email or acts twice."""

    class Kind(models.TextChoices):
        KEY_AGE_REMINDER = "key_age_reminder", "Key-age reminder"
        KEY_AGE_DEACTIVATED = "key_age_deactivated", "Key deactivated for its age"
        UNUSED_WARNING = "unused_warning", "Unused-credential warning"
        UNUSED_DISABLED = "unused_disabled", "Unused credential disabled"

    iam_account = models.ForeignKey(
        "provisioning.IamAccount", on_delete=models.CASCADE, related_name="guardrail_notices"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=200, unique=True)
    # The access key id, or "console" for the console password.
    credential = models.CharField(max_length=128)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key


class KeyAgeExtension(models.Model):
    """A security admin's one extension of an access key past the maximum age, with why."""

    access_key_id = models.CharField(max_length=128, unique=True)
    iam_account = models.ForeignKey(
        "provisioning.IamAccount", on_delete=models.CASCADE, related_name="key_age_extensions"
    )
    extended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    days = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.access_key_id} +{self.days} days"


class DriftFinding(models.Model):
    """Something in IAM the portal did not make, found by a drift scan."""

    class Kind(models.TextChoices):
        UNMANAGED_USER = "unmanaged_user", "IAM user not made by the portal"
        UNGRANTED_MEMBERSHIP = "ungranted_membership", "Member of a portal group without a grant"
        DIRECT_POLICY = "direct_policy", "Policy attached straight to a user"
        UNRECORDED_KEY = "unrecorded_key", "Access key the portal did not make"
        UNRECORDED_LOGIN_PROFILE = (
            "unrecorded_login_profile",
            "Console password not from the portal",
        )

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REMOVED = "removed", "Removed"
        ADOPTED = "adopted", "Adopted"
        ACCEPTED = "accepted", "Accepted"
        GONE = "gone", "No longer found"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    iam_user_name = models.CharField(max_length=64)
    # What exactly: the group, the policy ("arn:..." or "inline:<name>"), the key id; "" for a user.
    subject = models.CharField(max_length=2048, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    reason = models.TextField(blank=True)
    accepted_until = models.DateField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "iam_user_name", "subject"], name="one_finding_per_drift"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.iam_user_name} {self.subject}"

    @property
    def audit_target(self) -> str:
        return f"drift_finding:{self.pk}"


class ComplianceSnapshot(models.Model):
    """The account scored against the CIS IAM controls at one moment."""

    taken_at = models.DateTimeField(db_index=True)
    passed = models.PositiveIntegerField()
    total = models.PositiveIntegerField()
    # [{"id", "title", "passed", "failing": [...], "fix"}], in the benchmark's order.
    controls = models.JSONField(default=list)
    run = models.ForeignKey(
        GuardrailRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{self.passed}/{self.total} at {self.taken_at:%Y-%m-%d %H:%M}"

    @property
    def score(self) -> int:
        return round(100 * self.passed / self.total) if self.total else 0
