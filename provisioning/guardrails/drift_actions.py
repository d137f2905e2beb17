"""A security admin's answer to a drift finding: remove it, adopt the IAM user, or accept it
for a while with a reason. Each is audited; each refuses a finding that is no longer open."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from provisioning import aws
from provisioning.errors import PortalError
from provisioning.guardrails.models import DriftFinding
from provisioning.models import AccessKeyRecord, Grant, IamAccount, RoleGroup

Kind = DriftFinding.Kind
Status = DriftFinding.Status
REASON_MIN_LENGTH = 10


def _open_finding(actor: User, finding_id: int) -> DriftFinding:
    if not actor.has_perm(roles.OPERATE_PROVISIONING):
        raise PortalError("Only security admins act on drift findings.")
    finding = DriftFinding.objects.filter(pk=finding_id).first()
    if finding is None:
        raise PortalError("There is no such drift finding.")
    if finding.status != Status.OPEN:
        raise PortalError(
            f"This finding is {finding.get_status_display().lower()}: there is nothing to do."
        )
    return finding


def _resolve(
    finding: DriftFinding, status: str, actor: User, action: str, ip: str | None, **data: object
) -> None:
    finding.status = status
    finding.resolved_by = actor
    finding.resolved_at = timezone.now()
    finding.save(update_fields=["status", "resolved_by", "resolved_at", "reason", "accepted_until"])
    audit.record(
        action,
        actor=actor,
        target=finding.audit_target,
        data={
            "kind": finding.kind,
            "iam_user": finding.iam_user_name,
            "subject": finding.subject,
            **data,
        },
        ip=ip,
    )


def _remove_in_aws(finding: DriftFinding) -> None:
    name, subject = finding.iam_user_name, finding.subject
    if finding.kind == Kind.UNGRANTED_MEMBERSHIP:
        aws.call("RemoveUserFromGroup", UserName=name, GroupName=subject)
    elif finding.kind == Kind.DIRECT_POLICY and subject.startswith("inline:"):
        aws.call("DeleteUserPolicy", UserName=name, PolicyName=subject.removeprefix("inline:"))
    elif finding.kind == Kind.DIRECT_POLICY:
        aws.call("DetachUserPolicy", UserName=name, PolicyArn=subject)
    elif finding.kind == Kind.UNRECORDED_KEY:
        aws.deactivate_access_key(name, subject)
        aws.delete_access_key(name, subject)
    elif finding.kind == Kind.UNRECORDED_LOGIN_PROFILE:
        aws.delete_login_profile(name)


def drift_finding_remove(*, actor: User, finding_id: int, ip: str | None = None) -> DriftFinding:
    """Take it out of IAM: the membership, the policy, the key, the console password. An IAM
    user the portal did not make is never deleted by it: adopt or accept it."""
    finding = _open_finding(actor, finding_id)
    if finding.kind == Kind.UNMANAGED_USER:
        raise PortalError(
            "The portal does not delete IAM users it did not make: adopt the user (link it to "
            "its owner) or accept it with a reason."
        )
    try:
        with aws.recording() as calls:
            _remove_in_aws(finding)
    except aws.AwsError as error:
        if not aws.gone(error):
            raise PortalError(f"AWS refused: {error.message or error.code}") from None
    with transaction.atomic():
        _resolve(
            finding,
            Status.REMOVED,
            actor,
            "drift.finding.removed",
            ip,
            aws_request_ids=calls.request_ids,
        )
    return finding


def drift_finding_accept(
    *, actor: User, finding_id: int, reason: str, until: date, ip: str | None = None
) -> DriftFinding:
    """Leave it as it is until `until`, for a stated reason; the scan reopens it afterwards."""
    finding = _open_finding(actor, finding_id)
    reason = reason.strip()
    today = timezone.localdate()
    if len(reason) < REASON_MIN_LENGTH:
        raise PortalError(f"Say why, in at least {REASON_MIN_LENGTH} characters.")
    if until <= today or until > today + timedelta(days=settings.DRIFT_ACCEPT_MAX_DAYS):
        raise PortalError(
            f"Accept it until a date after today and at most {settings.DRIFT_ACCEPT_MAX_DAYS} "
            "days away."
        )
    finding.reason = reason
    finding.accepted_until = until
    with transaction.atomic():
        _resolve(
            finding,
            Status.ACCEPTED,
            actor,
            "drift.finding.accepted",
            ip,
            reason=reason,
            until=until,
        )
    return finding


def drift_finding_adopt(
    *, actor: User, finding_id: int, owner: User, ip: str | None = None
) -> IamAccount:
    """Link an IAM user the portal did not make to its owner. From then on it is the portal's:
    tagged as the owner's, its keys recorded (so rotation and the key-age policy apply), its
    memberships of catalogue groups recorded as grants, its console password adopted."""
    finding = _open_finding(actor, finding_id)
    if finding.kind != Kind.UNMANAGED_USER:
        raise PortalError("Only an IAM user the portal did not make can be adopted.")
    if not owner.is_active:
        raise PortalError(f"{owner} has left: adopt the user for someone who is here.")
    name = finding.iam_user_name
    if IamAccount.objects.filter(user_name=name).exists():
        raise PortalError(f"IAM user {name} is already the portal's.")
    try:
        with aws.recording() as calls:
            arn = aws.call("GetUser", UserName=name)["User"]["Arn"]
            aws.call(
                "TagUser",
                UserName=name,
                Tags=[
                    {"Key": aws.MANAGED_BY_TAG, "Value": aws.MANAGED_BY_VALUE},
                    {"Key": aws.OWNER_TAG, "Value": aws.tag_value(owner.email)},
                ],
            )
            keys = [key.access_key_id for key in aws.access_keys_of(name, with_last_use=False)]
            groups = aws.groups_of(name)
            console = aws.login_profile_exists(name)
    except aws.AwsError as error:
        raise PortalError(f"AWS refused: {error.message or error.code}") from None
    now = timezone.now()
    with transaction.atomic():
        account = IamAccount.objects.create(owner=owner, user_name=name, arn=arn)
        AccessKeyRecord.objects.bulk_create(
            [AccessKeyRecord(iam_account=account, access_key_id=key) for key in keys]
        )
        role_groups = list(RoleGroup.objects.filter(iam_group_name__in=groups))
        Grant.objects.bulk_create(
            [Grant(iam_account=account, role_group=group) for group in role_groups]
        )
        # What came with the user is the portal's now: its findings are settled by adoption.
        DriftFinding.objects.filter(
            iam_user_name=name, kind=Kind.UNGRANTED_MEMBERSHIP, status=Status.OPEN
        ).update(status=Status.ADOPTED, resolved_by=actor, resolved_at=now)
        if console:
            DriftFinding.objects.update_or_create(
                kind=Kind.UNRECORDED_LOGIN_PROFILE,
                iam_user_name=name,
                subject="",
                defaults={
                    "status": Status.ADOPTED,
                    "resolved_by": actor,
                    "resolved_at": now,
                    "last_seen_at": now,
                },
            )
        _resolve(
            finding,
            Status.ADOPTED,
            actor,
            "drift.finding.adopted",
            ip,
            owner=owner.email,
            iam_account=account.pk,
            access_keys=keys,
            grants=[group.name for group in role_groups],
            console_password=console,
            aws_request_ids=calls.request_ids,
        )
    return account
