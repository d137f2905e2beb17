"""The drift scan: what IAM holds that the portal did not make, recorded as findings.

Read live from IAM: every user; for each, its groups; for the portal's own users also their
policies attached straight to them, their access keys and their console password. Compared
with the portal: IAM users without an IamAccount; memberships of a catalogue group without a
live grant; policies on a user; keys the portal never recorded; a console password on a user
whose access is programmatic only. Each finding is kept once (kind, user, subject): seen again
it stays as it is (an accepted one reopens when its acceptance expires; a removed one that is
back reopens); an open one no longer seen is marked gone.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

import audit
from provisioning import aws
from provisioning.guardrails import notifications
from provisioning.guardrails.models import DriftFinding
from provisioning.models import AccessKeyRecord, AccessRequest, Grant, IamAccount, RoleGroup

logger = logging.getLogger(__name__)

Kind = DriftFinding.Kind
Status = DriftFinding.Status
CONSOLE_TYPES = (AccessRequest.AccessType.CONSOLE, AccessRequest.AccessType.BOTH)
Observed = tuple[str, str, str]


def _console_users() -> set[str]:
    """IAM users whose current access, as the portal provisioned it, includes the console."""
    latest: dict[str, str] = {}
    for user_name, access_type in (
        AccessRequest.objects.filter(status=AccessRequest.Status.ACTIVE, iam_account__isnull=False)
        .order_by("iam_account_id", "provisioned_at", "pk")
        .values_list("iam_account__user_name", "access_type")
    ):
        latest[user_name] = access_type
    return {name for name, access_type in latest.items() if access_type in CONSOLE_TYPES}


def drift_observe() -> list[Observed]:
    """Everything out of line in IAM now, as (kind, IAM user, subject)."""
    accounts = {
        account.user_name: account
        for account in IamAccount.objects.exclude(status=IamAccount.Status.DELETED)
    }
    portal_groups = set(RoleGroup.objects.values_list("iam_group_name", flat=True))
    granted = set(
        Grant.objects.filter(revoked_at__isnull=True).values_list(
            "iam_account__user_name", "role_group__iam_group_name"
        )
    )
    recorded_keys = set(AccessKeyRecord.objects.values_list("access_key_id", flat=True))
    console_users = _console_users()
    observed: list[Observed] = []
    for name in aws.user_names():
        account = accounts.get(name)
        if account is None:
            observed.append((Kind.UNMANAGED_USER, name, ""))
        for group in aws.groups_of(name):
            if group in portal_groups and (name, group) not in granted:
                observed.append((Kind.UNGRANTED_MEMBERSHIP, name, group))
        if account is None or account.status != IamAccount.Status.ACTIVE:
            # Someone else's user (the user finding covers what it holds), or an offboarded
            # one kept with the portal's deny-all policy.
            continue
        observed += [(Kind.DIRECT_POLICY, name, arn) for arn in aws.attached_user_policies(name)]
        observed += [
            (Kind.DIRECT_POLICY, name, f"inline:{policy}")
            for policy in aws.inline_user_policies(name)
            if policy != aws.DENY_ALL_POLICY_NAME
        ]
        observed += [
            (Kind.UNRECORDED_KEY, name, key.access_key_id)
            for key in aws.access_keys_of(name, with_last_use=False)
            if key.access_key_id not in recorded_keys
        ]
        if name not in console_users and aws.login_profile_exists(name):
            observed.append((Kind.UNRECORDED_LOGIN_PROFILE, name, ""))
    return observed


def _event(finding: DriftFinding, action: str, **data: Any) -> None:
    audit.record(
        action,
        target=finding.audit_target,
        data={
            "kind": finding.kind,
            "iam_user": finding.iam_user_name,
            "subject": finding.subject,
            **data,
        },
    )


def drift_record(observed: list[Observed], *, now: datetime | None = None) -> dict[str, int]:
    """Bring the findings in line with what was observed; email the admins what is new."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    seen = set(observed)
    existing = {(f.kind, f.iam_user_name, f.subject): f for f in DriftFinding.objects.all()}
    new: list[DriftFinding] = []
    counts = {"found": 0, "reopened": 0, "gone": 0, "open": 0}
    with transaction.atomic():
        for kind, user_name, subject in sorted(seen):
            finding = existing.get((kind, user_name, subject))
            if finding is None:
                finding = DriftFinding.objects.create(
                    kind=kind, iam_user_name=user_name, subject=subject, last_seen_at=now
                )
                _event(finding, "drift.finding.found")
                new.append(finding)
                counts["found"] += 1
                continue
            reopen = finding.status in (Status.REMOVED, Status.GONE) or (
                finding.status == Status.ACCEPTED
                and finding.accepted_until is not None
                and finding.accepted_until < today
            )
            finding.last_seen_at = now
            if reopen:
                was = finding.status
                finding.status = Status.OPEN
                finding.resolved_at = None
                _event(finding, "drift.finding.reopened", was=was)
                new.append(finding)
                counts["reopened"] += 1
            finding.save(update_fields=["last_seen_at", "status", "resolved_at"])
        for key, finding in existing.items():
            if key not in seen and finding.status in (Status.OPEN, Status.ACCEPTED):
                was = finding.status
                finding.status = Status.GONE
                finding.resolved_at = now
                finding.save(update_fields=["status", "resolved_at"])
                _event(finding, "drift.finding.gone", was=was)
                counts["gone"] += 1
        counts["open"] = DriftFinding.objects.filter(status=Status.OPEN).count()
    if new:
        try:
            notifications.drift_found(
                findings=[
                    {
                        "label": f.get_kind_display(),
                        "iam_user_name": f.iam_user_name,
                        "subject": f.subject,
                    }
                    for f in new
                ]
            )
        except OSError:
            logger.exception("Could not email the security admins about new drift")
    return counts


def drift_scan(*, now: datetime | None = None) -> dict[str, int]:
    return drift_record(drift_observe(), now=now)
