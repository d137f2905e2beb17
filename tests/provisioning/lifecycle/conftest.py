"""Lifecycle tests' helpers: access granted the real way (submitted, approved, provisioned by
the eager task against in-process moto), and the IAM state to assert on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest

from accounts.models import User
from provisioning import aws
from provisioning.models import AccessRequest, Grant, RoleGroup
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.submit import access_request_submit
from tests.factories import RoleGroupFactory

JUSTIFICATION = "Needed for the quarterly close and its reconciliations."


def iam_groups_of(user_name: str) -> list[str]:
    return [g["GroupName"] for g in aws.client().list_groups_for_user(UserName=user_name)["Groups"]]


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """`with run_on_commit():` runs what the block enqueues on commit (the eager tasks)."""

    @contextmanager
    def runner() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return runner


@pytest.fixture
def grant_access(aws: None, run_on_commit: Callable[[], Any]) -> Callable[..., Grant]:
    """Grant `role_group` to `person` as the portal does: submit, approve (and the second
    approval when sensitive), provision. Returns the live grant."""

    def grant(
        person: User,
        approver: User,
        *,
        role_group: RoleGroup | None = None,
        end_date: date | None = None,
        duration_hours: int | None = None,
        second_approver: User | None = None,
        access_type: str = AccessRequest.AccessType.CONSOLE,
    ) -> Grant:
        role_group = role_group or RoleGroupFactory(managed_policy_arns=[])
        with run_on_commit():
            (request,) = access_request_submit(
                requester=person,
                access_type=access_type,
                justification=JUSTIFICATION,
                role_group=role_group,
                end_date=end_date,
                duration_hours=duration_hours,
            )
        with run_on_commit():
            access_request_approve(access_request_id=request.pk, actor=approver)
        if second_approver is not None:
            with run_on_commit():
                access_request_approve(access_request_id=request.pk, actor=second_approver)
        request.refresh_from_db()
        assert request.status == AccessRequest.Status.ACTIVE, request.failure_reason
        return Grant.objects.select_related("iam_account__owner", "role_group").get(
            iam_account=request.iam_account, role_group=role_group, revoked_at__isnull=True
        )

    return grant
