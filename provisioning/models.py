from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class RoleGroup(models.Model):
    """A role in the catalogue, backed by one IAM group and its managed policies."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    iam_group_name = models.CharField(max_length=128, unique=True)
    managed_policy_arns = models.JSONField(default=list, blank=True)
    sensitive = models.BooleanField(
        default=False, help_text="Needs a second approval by a security admin."
    )
    max_duration_days = models.PositiveIntegerField(null=True, blank=True)
    # Temporary elevation (break-glass): granted for hours, never open-ended or for days.
    temporary_only = models.BooleanField(
        default=False, help_text="Granted for a few hours at a time (temporary elevation)."
    )
    max_duration_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    # When this is the last role-group of a person's IAM user to end, the console password
    # and access keys go too (otherwise the user keeps them, with no group).
    ending_removes_credentials = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When a sync last made its IAM group match (None: never, so it cannot be requested yet),
    # and when provisioning last saw the group hold every policy of the catalogue.
    synced_at = models.DateTimeField(null=True, blank=True)
    policies_verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("manage_catalogue", "Can edit the role-group catalogue"),
            ("operate_provisioning", "Can see and retry failed provisioning and re-issue links"),
        ]

    def __str__(self) -> str:
        return self.name


class IamAccount(models.Model):
    """An IAM user the portal created for a person."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled (offboarded, kept)"
        DELETED = "deleted", "Deleted"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="iam_accounts"
    )
    user_name = models.CharField(max_length=64, unique=True)
    arn = models.CharField(max_length=2048, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    # What the daily unused-credentials run last saw in AWS (None: not checked yet), so a
    # person's page says which credentials exist and when they were last used.
    console_password = models.BooleanField(null=True, blank=True)
    console_last_used_at = models.DateTimeField(null=True, blank=True)
    usage_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user_name"]

    def __str__(self) -> str:
        return self.user_name


def _has_console(access_type: str) -> bool:
    return access_type in ("console", "both")


def _has_key(access_type: str) -> bool:
    return access_type in ("programmatic", "both")


class AccessRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending manager approval"
        AWAITING_SECOND_APPROVAL = "awaiting_second_approval", "Awaiting second approval"
        APPROVED = "approved", "Approved"
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    class AccessType(models.TextChoices):
        CONSOLE = "console", "Console"
        PROGRAMMATIC = "programmatic", "Programmatic (access key)"
        BOTH = "both", "Console and programmatic"

    OPEN_STATUSES = (
        Status.PENDING,
        Status.AWAITING_SECOND_APPROVAL,
        Status.APPROVED,
        Status.PROVISIONING,
    )
    UNDECIDED_STATUSES = (Status.PENDING, Status.AWAITING_SECOND_APPROVAL)

    class Kind(models.TextChoices):
        GRANT = "grant", "New access"
        EXTENSION = "extension", "Extension of a grant"

    class Route(models.TextChoices):
        """Who decides the first stage, fixed at submission (re-routed, with an audit row,
        when the requester's place in the org chart changes)."""

        MANAGER = "manager", "the requester's manager"
        NO_MANAGER = "no_manager", "the security admins: the requester has no active manager"
        PLACED_BY_MANAGER = (
            "placed_by_manager",
            "the security admins: the manager placed the requester in the org chart recently",
        )

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_requests"
    )
    role_group = models.ForeignKey(
        RoleGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    access_type = models.CharField(max_length=16, choices=AccessType.choices)
    # The access type the IAM user had when this was submitted ("" for a new IAM user): what
    # this request removes is stated to the requester, the approver and in every email.
    previous_access_type = models.CharField(max_length=16, choices=AccessType.choices, blank=True)
    justification = models.TextField()
    end_date = models.DateField(null=True, blank=True)
    # An extension asks for a later end of a grant the requester holds (provisioning/lifecycle);
    # temporary access (a `temporary_only` role-group) is asked for in hours, not to a date.
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GRANT)
    grant = models.ForeignKey(
        "Grant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="extension_requests",
    )
    duration_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    copied_from = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # The first-stage approver (None: the security admins decide), and why.
    first_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests_to_decide",
    )
    route = models.CharField(max_length=32, choices=Route.choices, default=Route.MANAGER)
    iam_account = models.ForeignKey(
        IamAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    # The IAM user name decided at submission, so a re-run never derives a different one.
    iam_user_name = models.CharField(max_length=64, blank=True)
    steps_done = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    # Active, but the worker stopped while sending the credential email: it may not have
    # arrived, and a security admin should re-issue if the person has no link.
    credential_email_unconfirmed = models.BooleanField(default=False)
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # Approved over PROVISIONING_SLOW_SECONDS ago and not active yet: the security admins were
    # told then (once per request).
    slow_notified_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "role_group"],
                condition=Q(
                    status__in=["pending", "awaiting_second_approval", "approved", "provisioning"]
                ),
                name="one_open_request_per_person_and_role_group",
            )
        ]
        indexes = [
            # The operations page's "credential email may not have gone out": a handful of
            # rows among every active request.
            models.Index(
                fields=["updated_at"],
                condition=Q(credential_email_unconfirmed=True),
                name="request_email_unconfirmed",
            )
        ]

    def __str__(self) -> str:
        return f"Request #{self.pk} by {self.requester_id} for {self.role_group_id}"

    @property
    def audit_target(self) -> str:
        return f"access_request:{self.pk}"

    @property
    def removes_console(self) -> bool:
        return _has_console(self.previous_access_type) and not _has_console(self.access_type)

    @property
    def removes_access_key(self) -> bool:
        return _has_key(self.previous_access_type) and not _has_key(self.access_type)

    @property
    def removes_access(self) -> bool:
        return self.removes_console or self.removes_access_key


class Approval(models.Model):
    class Stage(models.TextChoices):
        MANAGER = "manager", "Manager"
        SECURITY = "security", "Security admin (second approval)"

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    stage = models.CharField(max_length=16, choices=Stage.choices)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "stage"], name="one_decision_per_stage")
        ]
        indexes = [
            # An approver's decisions, newest first (the dashboard's ten, the history's pages).
            models.Index(fields=["approver", "-created_at", "-id"], name="approval_by_approver")
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.decision} on request #{self.request_id}"


class Grant(models.Model):
    """A role-group held by an IAM account (its IAM group membership), from its start to its
    end. Nothing is deleted: an ended grant is history (provisioning/lifecycle).

    Live while `revoked_at` is empty. Its end is decided first (`end`, who, when, why: the
    grant is then "ending") and done by the worker, which removes the IAM membership and sets
    `revoked_at`, the moment it stopped being live however it ended (the name predates
    expiry)."""

    class End(models.TextChoices):
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"
        RELINQUISHED = "relinquished", "Given up"
        OFFBOARDED = "offboarded", "Offboarded"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDING = "ending", "Being removed"
        ENDED = "ended", "Ended"

    iam_account = models.ForeignKey(IamAccount, on_delete=models.CASCADE, related_name="grants")
    role_group = models.ForeignKey(RoleGroup, on_delete=models.PROTECT, related_name="grants")
    request = models.ForeignKey(
        AccessRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    ends_on = models.DateField(null=True, blank=True)
    # The exact end of temporary access (hours); `ends_on` is then its date.
    ends_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    end = models.CharField(max_length=16, choices=End.choices, blank=True, db_index=True)
    end_requested_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    end_reason = models.TextField(blank=True)
    # The worker's removal: steps recorded, fenced by attempts (see lifecycle/removal.py).
    steps_done = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    warned_week_at = models.DateTimeField(null=True, blank=True)
    warned_day_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["iam_account", "role_group"],
                condition=Q(revoked_at__isnull=True),
                name="one_live_grant_per_account_and_role_group",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role_group_id} for {self.iam_account_id}"

    @property
    def audit_target(self) -> str:
        return f"grant:{self.pk}"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return self.State.ENDED
        return self.State.ENDING if self.end else self.State.ACTIVE

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE

    def get_state_display(self) -> str:
        return self.State(self.state).label


class AccessKeyRecord(models.Model):
    """An access key the portal created. Keys of ours not recorded here are deleted on retry."""

    iam_account = models.ForeignKey(
        IamAccount, on_delete=models.CASCADE, related_name="access_keys"
    )
    access_key_id = models.CharField(max_length=128, unique=True)
    request = models.ForeignKey(
        AccessRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # As the daily unused-credentials run last saw it in AWS.
    active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.access_key_id


class CredentialLink(models.Model):
    """A one-time, expiring link to a person's new credentials.

    Only the SHA-256 of the token is kept. The password and secret key are sealed with
    AES-256-GCM (provisioning/crypto.py) and wiped when revealed."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credential_links"
    )
    iam_account = models.ForeignKey(
        IamAccount, on_delete=models.CASCADE, related_name="credential_links"
    )
    request = models.ForeignKey(
        AccessRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="credential_links",
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    sealed_password = models.BinaryField(null=True, blank=True)
    access_key_id = models.CharField(max_length=128, blank=True)
    sealed_secret_key = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revealed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Expired uncollected: its sealed secrets wiped (and its access key deactivated in AWS).
    wiped_at = models.DateTimeField(null=True, blank=True)
    key_deactivated_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Credential link #{self.pk} for {self.recipient_id}"


from provisioning.guardrails.models import *  # noqa: E402, F403  (the guardrails' tables)
from provisioning.lifecycle.models import AccessReview, ReviewItem  # noqa: E402, F401
from provisioning.offboarding.models import Offboarding, OffboardingSchedule  # noqa: E402, F401
from provisioning.requests.models import ApprovalDigest  # noqa: E402, F401
from provisioning.scim.models import LeaverNotice, ScimIdentity, ScimToken  # noqa: E402, F401
