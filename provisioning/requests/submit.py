"""Submitting what `access_request_plan` describes."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils.crypto import constant_time_compare

import audit
from accounts.models import User
from common.locks import LockKey, xact_lock
from provisioning.errors import DuplicateOpenRequest
from provisioning.models import AccessRequest, Grant, RoleGroup
from provisioning.requests import notifications
from provisioning.requests.plan import PlanChanged, access_request_plan


def access_request_submit(
    *,
    requester: User,
    access_type: str,
    justification: str,
    role_group: RoleGroup | None = None,
    colleague: User | None = None,
    end_date: date | None = None,
    duration_hours: int | None = None,
    extends: Grant | None = None,
    reviewed_digest: str | None = None,
    ip: str | None = None,
) -> list[AccessRequest]:
    """Submit what `access_request_plan` describes.

    1. Lock the requester (one submission at a time per person) and, for a new IAM user,
       the naming lock; re-plan under the locks.
    2. Refuse if the plan differs from the one reviewed (`reviewed_digest`).
    3. Create one request per planned role-group, audit `request.submitted` for each.
    4. After commit, email the first-stage approver (manager, else the security admins).
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=requester.pk).first()
        xact_lock(LockKey.IAM_USER_NAMING)
        plan = access_request_plan(
            requester=requester,
            access_type=access_type,
            justification=justification,
            role_group=role_group,
            colleague=colleague,
            end_date=end_date,
            duration_hours=duration_hours,
            extends=extends,
        )
        if reviewed_digest is not None and not constant_time_compare(
            reviewed_digest, plan.digest()
        ):
            raise PlanChanged(plan)
        created = []
        for planned in plan.requests:
            try:
                with transaction.atomic():
                    access_request = AccessRequest.objects.create(
                        requester=requester,
                        role_group=planned.role_group,
                        access_type=plan.access_type,
                        previous_access_type=plan.current_access_type,
                        justification=plan.justification,
                        end_date=planned.end_date,
                        kind=planned.kind,
                        grant=planned.grant,
                        duration_hours=planned.duration_hours,
                        copied_from=plan.copied_from,
                        iam_account=plan.existing_account,
                        iam_user_name=plan.iam_user_name,
                        first_approver=plan.approver,
                        route=plan.route,
                    )
            except IntegrityError:
                name = planned.role_group.name if planned.role_group else "this change"
                raise DuplicateOpenRequest(
                    f"You already have an open request for {name}."
                ) from None
            audit.record(
                "request.submitted",
                actor=requester,
                target=access_request.audit_target,
                subject=access_request.requester_id,
                data={
                    "role_group": planned.role_group.name if planned.role_group else None,
                    "access_type": plan.access_type,
                    "previous_access_type": plan.current_access_type or None,
                    "iam_user_name": plan.iam_user_name,
                    "change_to_existing_user": plan.is_change,
                    "first_approver": plan.approver.email if plan.approver else None,
                    "route": plan.route,
                    "end_date": planned.end_date,
                    "kind": planned.kind,
                    "extends_grant": planned.grant.pk if planned.grant else None,
                    "duration_hours": planned.duration_hours,
                    "copied_from": plan.copied_from.email if plan.copied_from else None,
                },
                ip=ip,
            )
            created.append(access_request)
        transaction.on_commit(
            lambda: notifications.request_submitted(created, approver=plan.approver),
            robust=True,
        )
    return created
