"""Expiry: grants past their end are ended in IAM by the worker (eager here, in-process moto),
marked expired, audited and emailed; a sync never brings them back; `access_expire`."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from provisioning import aws
from provisioning.catalogue.services import catalogue_sync
from provisioning.lifecycle.expiry import end_due_grants, grants_expire
from provisioning.models import AccessRequest, Grant, RoleGroup
from provisioning.requests.submit import access_request_submit
from tests.factories import RoleGroupFactory
from tests.provisioning.lifecycle.conftest import JUSTIFICATION, iam_groups_of

pytestmark = pytest.mark.django_db


def _days(n: int) -> Any:
    return timezone.localdate() + timedelta(days=n)


def test_a_grant_past_its_end_date_leaves_its_iam_group_and_is_kept_as_expired(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    grant = grant_access(employee, manager, end_date=_days(10))
    user_name = grant.iam_account.user_name
    group = grant.role_group.iam_group_name
    assert iam_groups_of(user_name) == [group]
    mail.outbox.clear()

    with time_machine.travel(timezone.now() + timedelta(days=11)), run_on_commit():
        outcome = end_due_grants()

    assert [g.pk for g in outcome.expired] == [grant.pk]
    assert iam_groups_of(user_name) == []
    grant.refresh_from_db()
    assert grant.state == Grant.State.ENDED
    assert grant.end == Grant.End.EXPIRED
    assert grant.ended_by is None
    assert grant.steps_done == ["group"]
    actions = list(
        AuditEvent.objects.filter(target=f"grant:{grant.pk}")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["grant.expired", "iam.group.removed"]
    removed = AuditEvent.objects.get(action="iam.group.removed")
    assert removed.data["removed"] is True and removed.data["end"] == "expired"
    assert removed.data["aws_request_ids"]
    (ended,) = [m for m in mail.outbox if "has ended" in m.subject]
    assert sorted(ended.to) == sorted([employee.email, manager.email])
    assert "reached its end" in ended.body
    # The IAM user itself stays (with no group) and so do its credentials: the role-group
    # does not say otherwise.
    assert aws.client().get_login_profile(UserName=user_name)["LoginProfile"]


def test_a_grant_is_held_through_its_end_date_and_expires_the_day_after(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    grant = grant_access(employee, manager, end_date=_days(3))

    with time_machine.travel(timezone.now() + timedelta(days=3)), run_on_commit():
        assert grants_expire() == []
    with time_machine.travel(timezone.now() + timedelta(days=4)), run_on_commit():
        assert [g.pk for g in grants_expire()] == [grant.pk]
        assert grants_expire() == []

    assert Grant.objects.get(pk=grant.pk).end == Grant.End.EXPIRED
    assert AuditEvent.objects.filter(action="grant.expired").count() == 1


def test_a_catalogue_sync_after_expiry_does_not_add_the_membership_back(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any, security_admin: Any
) -> None:
    grant = grant_access(employee, manager, end_date=_days(1))
    with time_machine.travel(timezone.now() + timedelta(days=2)), run_on_commit():
        grants_expire()
    assert iam_groups_of(grant.iam_account.user_name) == []
    # moto knows none of AWS's managed policies unless loaded (slow): the seeded role-groups
    # sync without theirs.
    RoleGroup.objects.update(managed_policy_arns=[])

    catalogue_sync(actor=security_admin)

    assert iam_groups_of(grant.iam_account.user_name) == []
    assert aws.client().get_group(GroupName=grant.role_group.iam_group_name)["Users"] == []


def test_the_last_grant_ending_removes_credentials_only_if_its_role_group_says_so(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    keeps = RoleGroupFactory(managed_policy_arns=[])
    removes = RoleGroupFactory(managed_policy_arns=[], ending_removes_credentials=True)
    first = grant_access(
        employee, manager, role_group=removes, end_date=_days(1), access_type="both"
    )
    second = grant_access(
        employee, manager, role_group=keeps, end_date=_days(5), access_type="both"
    )
    user_name = first.iam_account.user_name
    iam = aws.client()

    # Not the last one: the person keeps their console password and key.
    with time_machine.travel(timezone.now() + timedelta(days=2)), run_on_commit():
        grants_expire()
    assert iam.get_login_profile(UserName=user_name)["LoginProfile"]
    assert len(iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]) == 1
    assert iam_groups_of(user_name) == [keeps.iam_group_name]

    # The last one, of a role-group that keeps credentials: they stay, with no group.
    with time_machine.travel(timezone.now() + timedelta(days=6)), run_on_commit():
        grants_expire()
    assert iam_groups_of(user_name) == []
    assert iam.get_login_profile(UserName=user_name)["LoginProfile"]
    assert Grant.objects.get(pk=second.pk).steps_done == ["group"]


def test_a_last_grant_of_a_role_group_that_says_so_takes_console_and_keys_with_it(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    removes = RoleGroupFactory(managed_policy_arns=[], ending_removes_credentials=True)
    grant = grant_access(
        employee, manager, role_group=removes, end_date=_days(1), access_type="both"
    )
    user_name = grant.iam_account.user_name
    iam = aws.client()

    with time_machine.travel(timezone.now() + timedelta(days=2)), run_on_commit():
        grants_expire()

    assert iam_groups_of(user_name) == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName=user_name)
    assert iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"] == []
    grant.refresh_from_db()
    assert grant.steps_done == ["credentials", "group"]
    assert not grant.iam_account.access_keys.filter(deleted_at__isnull=True).exists()
    assert AuditEvent.objects.filter(
        action="iam.login_profile.deleted", data__grant=grant.pk
    ).exists()


def test_an_open_extension_is_cancelled_when_its_grant_expires(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    grant = grant_access(employee, manager, end_date=_days(2))
    (extension,) = access_request_submit(
        requester=employee,
        access_type="console",
        justification=JUSTIFICATION,
        extends=grant,
        end_date=_days(20),
    )

    with time_machine.travel(timezone.now() + timedelta(days=3)), run_on_commit():
        grants_expire()

    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.CANCELLED
    cancelled = AuditEvent.objects.get(action="request.cancelled")
    assert cancelled.data["reason"] == "the access it would extend ended"


def test_access_expire_dry_run_says_what_would_end_and_changes_nothing(
    grant_access: Any, employee: Any, manager: Any
) -> None:
    due = grant_access(employee, manager, end_date=_days(5))
    out = StringIO()

    call_command("access_expire", "--dry-run", "--as-of", _days(6).isoformat(), stdout=out)

    text = out.getvalue()
    assert f"Would expire grant {due.pk}: {employee.email} {due.role_group.name}" in text
    assert "1 grant(s) would expire; nothing changed" in text
    due.refresh_from_db()
    assert due.state == Grant.State.ACTIVE
    assert iam_groups_of(due.iam_account.user_name) == [due.role_group.iam_group_name]
    assert not AuditEvent.objects.filter(action="grant.expired").exists()


def test_access_expire_as_of_a_date_ends_what_has_ended_by_then_only(
    grant_access: Any, run_on_commit: Any, employee: Any, manager: Any
) -> None:
    soon = grant_access(employee, manager, end_date=_days(5))
    later = grant_access(employee, manager, end_date=_days(9))
    out = StringIO()

    with run_on_commit():
        call_command("access_expire", "--as-of", _days(6).isoformat(), stdout=out)

    assert f"Expired grant {soon.pk}" in out.getvalue()
    assert "1 grant(s) expired as of" in out.getvalue()
    assert Grant.objects.get(pk=soon.pk).state == Grant.State.ENDED
    assert Grant.objects.get(pk=later.pk).state == Grant.State.ACTIVE
    assert iam_groups_of(later.iam_account.user_name) == [later.role_group.iam_group_name]
    assert AuditEvent.objects.get(action="grant.expired").data["as_of"] == _days(6).isoformat()


def test_access_expire_refuses_a_date_it_cannot_read(db: None) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("access_expire", "--as-of", "next tuesday")
