"""The role-group catalogue: what people can request, and its IAM groups in AWS.

Changes are made by security admins through these services (each writes its audit row in the
same transaction); `catalogue_sync` brings AWS in line with the catalogue.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from provisioning import aws
from provisioning.errors import CatalogueError
from provisioning.models import RoleGroup

# The fields a security admin edits, in the order the audit row lists them.
EDITABLE_FIELDS = (
    "name",
    "description",
    "iam_group_name",
    "managed_policy_arns",
    "sensitive",
    "max_duration_days",
    "temporary_only",
    "max_duration_hours",
    "ending_removes_credentials",
    "active",
)


def _require_editor(actor: User) -> None:
    if not actor.has_perm(roles.MANAGE_CATALOGUE):
        raise CatalogueError("Only security admins edit the catalogue.")


def _snapshot(role_group: RoleGroup) -> dict[str, Any]:
    return {field: getattr(role_group, field) for field in EDITABLE_FIELDS}


def _check_policies_exist(arns: list[str]) -> None:
    """Every ARN names a policy AWS has: a typo is refused when saving, naming the ARN, not
    found later by a person whose provisioning fails."""
    for arn in arns:
        try:
            exists = aws.policy_exists(arn)
        except aws.AwsError as error:
            raise CatalogueError(
                f"AWS could not be asked whether {arn} exists ({error.code}): nothing was "
                "saved. Try again once AWS answers."
            ) from None
        if not exists:
            raise CatalogueError(
                f"AWS has no managed policy {arn}: check its name and account. Nothing was saved."
            )


def role_group_create(*, actor: User, ip: str | None = None, **fields: Any) -> RoleGroup:
    """Add a role-group to the catalogue. Its IAM group appears in AWS at the next sync, and
    people can request it from then on."""
    _require_editor(actor)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not catalogue fields: {sorted(unknown)}")
    _check_policies_exist(list(fields.get("managed_policy_arns") or []))
    try:
        with transaction.atomic():
            role_group = RoleGroup.objects.create(**fields)
            audit.record(
                "catalogue.created",
                actor=actor,
                target=f"role_group:{role_group.pk}",
                data=_snapshot(role_group),
                ip=ip,
            )
    except IntegrityError:
        raise CatalogueError(
            "Another role-group already has this name or IAM group name."
        ) from None
    return role_group


def role_group_update(
    *, actor: User, role_group: RoleGroup, ip: str | None = None, **fields: Any
) -> list[str]:
    """Change a role-group; returns the names of the fields that changed.

    The IAM group name is fixed once anyone has asked for the role-group: renaming would leave
    their IAM users in a group the portal no longer knows."""
    _require_editor(actor)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not catalogue fields: {sorted(unknown)}")
    with transaction.atomic():
        current = RoleGroup.objects.select_for_update().get(pk=role_group.pk)
        before = _snapshot(current)
        changed = [name for name, value in fields.items() if before[name] != value]
        if not changed:
            return []
        if "iam_group_name" in changed and current.requests.exists():
            raise CatalogueError(
                "The IAM group name cannot change once access to this role-group has been "
                "requested. Create a new role-group instead."
            )
        if "managed_policy_arns" in changed:
            new_arns = set(fields["managed_policy_arns"]) - set(before["managed_policy_arns"])
            _check_policies_exist(sorted(new_arns))
            # Provisioning checks the group holds the new list before anyone is granted it.
            current.policies_verified_at = None
            changed_fields = [*changed, "policies_verified_at"]
        else:
            changed_fields = list(changed)
        for name in changed:
            setattr(current, name, fields[name])
        try:
            with transaction.atomic():
                current.save(update_fields=[*changed_fields, "updated_at"])
        except IntegrityError:
            raise CatalogueError(
                "Another role-group already has this name or IAM group name."
            ) from None
        audit.record(
            "catalogue.updated",
            actor=actor,
            target=f"role_group:{current.pk}",
            data={"changes": {name: [before[name], fields[name]] for name in changed}},
            ip=ip,
        )
    role_group.refresh_from_db()
    return changed


def catalogue_sync(*, actor: User | None = None, ip: str | None = None) -> list[str]:
    """Make AWS match the catalogue; returns what changed (empty when it already did).

    Steps:
    1. the customer-managed MFA policy exists with the portal's document;
    2. each active role-group's IAM group exists with exactly its managed policies plus the
       MFA policy (inactive role-groups are left alone: their members keep what they have).
    Raises `aws.AwsError` when AWS refuses; what was done before that stays done, and a
    re-run picks up from there."""
    if actor is not None:
        _require_editor(actor)
    changes: list[str] = []
    with aws.recording() as calls:
        try:
            account = aws.whoami().account
            mfa_policy_arn, mfa_changed = aws.ensure_mfa_policy(account)
            if mfa_changed:
                changes.append(f"created or updated policy {aws.MFA_POLICY_NAME}")
            for role_group in RoleGroup.objects.filter(active=True).order_by("name"):
                policies = [*role_group.managed_policy_arns, mfa_policy_arn]
                changes.extend(aws.ensure_group(role_group.iam_group_name, policies))
                now = timezone.now()
                RoleGroup.objects.filter(pk=role_group.pk).update(
                    synced_at=now, policies_verified_at=now
                )
        except aws.AwsError as error:
            # What was done before the refusal is done: the trail says so, and why it stopped.
            _record_sync(actor, ip, changes, calls, error=str(error))
            raise
        _record_sync(actor, ip, changes, calls)
    return changes


def _record_sync(
    actor: User | None, ip: str | None, changes: list[str], calls: aws.CallLog, error: str = ""
) -> None:
    data: dict[str, Any] = {"changes": changes}
    if changes or error:
        # The request ids tie the row to CloudTrail; a sync that only read has nothing to tie.
        data["aws_request_ids"] = calls.request_ids
    if error:
        data["error"] = error
    audit.record("catalogue.synced", actor=actor, target="catalogue", data=data, ip=ip)
