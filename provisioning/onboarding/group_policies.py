"""Before anyone is granted a role-group: its IAM group holds every policy of the catalogue."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from provisioning import aws
from provisioning.errors import PortalError
from provisioning.models import IamAccount, RoleGroup


def group_policies_verify(role_group: RoleGroup, account: IamAccount) -> list[str]:
    """The IAM group holds every policy the catalogue lists (and the MFA policy) before anyone
    is granted it: a group that exists but lacks a policy (a typo fixed in the catalogue, a
    policy detached by hand) gets it now, and one AWS refuses fails the request, naming it.
    Checked once per CATALOGUE_VERIFY_SECONDS per group, not on every request."""
    fresh_after = timezone.now() - timedelta(seconds=settings.CATALOGUE_VERIFY_SECONDS)
    if (
        role_group.policies_verified_at is not None
        and role_group.policies_verified_at > fresh_after
    ):
        return []
    account_id = account.arn.split(":")[4] if account.arn.count(":") >= 5 else ""
    wanted = [*role_group.managed_policy_arns]
    if account_id:
        wanted.append(aws.mfa_policy_arn(account_id))
    try:
        attached = aws.attach_missing_group_policies(role_group.iam_group_name, wanted)
    except aws.AwsError as error:
        if error.code in {"NoSuchEntity", "InvalidInput"}:
            raise PortalError(
                f"The IAM group {role_group.iam_group_name} lacks a policy of the catalogue that "
                f"AWS will not attach ({error.message}). Fix {role_group.name}'s policy ARNs in "
                "the catalogue (or sync it), then retry."
            ) from None
        raise
    now = timezone.now()
    RoleGroup.objects.filter(pk=role_group.pk).update(policies_verified_at=now)
    role_group.policies_verified_at = now
    return attached
