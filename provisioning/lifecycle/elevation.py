"""Temporary elevation (break-glass): a role-group marked "temporary only" is granted for a
few hours at a time, within its maximum. It is asked for and approved like any request; once
approved the worker grants it at once, with its exact end (`Grant.ends_at`) computed from the
moment it starts (onboarding's "group" step, through `rules.grant_end`), and the lifecycle's
beat job removes it when that moment comes. Both moments are in the audit trail:
`iam.group.added` (started_at, ends_at) and `iam.group.removed` (ended_at). Longer needs a
new approval: an extension, asked for in hours again."""

from __future__ import annotations

from accounts.models import User
from provisioning.errors import RequestInvalid
from provisioning.models import AccessRequest, RoleGroup
from provisioning.requests.selectors import current_access_type, live_iam_account_of
from provisioning.requests.submit import access_request_submit


def elevation_request(
    *,
    requester: User,
    role_group: RoleGroup,
    duration_hours: int,
    justification: str,
    access_type: str | None = None,
    ip: str | None = None,
) -> AccessRequest:
    """Ask for temporary access. It is added to the requester's IAM user as it is; a person
    without an IAM user chooses how they will sign in (`access_type`)."""
    if not role_group.temporary_only:
        raise RequestInvalid(f"{role_group.name} is not temporary access: request it as usual.")
    current = current_access_type(requester) if live_iam_account_of(requester) else ""
    chosen = current or access_type
    if not chosen:
        raise RequestInvalid("Choose how you will sign in: console, programmatic or both.")
    (created,) = access_request_submit(
        requester=requester,
        access_type=chosen,
        justification=justification,
        role_group=role_group,
        duration_hours=duration_hours,
        ip=ip,
    )
    return created
