"""The worker's removal of an ending grant: idempotent, resumable, retried when AWS throttles,
a permanent refusal recorded once; and offboarding ends grants through the same service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from provisioning import aws
from provisioning.lifecycle.ending import grant_revoke, grants_end_for_offboarding
from provisioning.lifecycle.removal import grant_removal_run
from provisioning.models import Grant, IamAccount
from tests.factories import OffboardingFactory
from tests.provisioning.lifecycle.conftest import iam_groups_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ending(grant_access: Any, employee: Any, manager: Any) -> Grant:
    """A grant its manager has just revoked (the removal not run yet)."""
    grant = grant_access(employee, manager, end_date=timezone.localdate() + timedelta(days=9))
    grant_revoke(grant_id=grant.pk, actor=manager, reason="Moved to the data team.")
    grant.refresh_from_db()
    assert grant.state == Grant.State.ENDING
    return grant


def test_a_removal_already_done_in_aws_just_records_the_end(ending: Grant) -> None:
    aws.client().remove_user_from_group(
        UserName=ending.iam_account.user_name, GroupName=ending.role_group.iam_group_name
    )

    assert grant_removal_run(grant_id=ending.pk) == "ended"

    ending.refresh_from_db()
    assert ending.state == Grant.State.ENDED and ending.end == Grant.End.REVOKED
    assert AuditEvent.objects.get(action="iam.group.removed").data["removed"] is False
    # Run again (a redelivered task): nothing more happens.
    assert grant_removal_run(grant_id=ending.pk) == "skipped"
    assert AuditEvent.objects.filter(action="iam.group.removed").count() == 1


def test_throttling_leaves_the_grant_ending_for_the_retry_which_finishes_it(
    ending: Grant, settings: Any
) -> None:
    settings.AWS_MAX_ATTEMPTS = 1
    settings.AWS_FAULT_INJECTION = "before:RemoveUserFromGroup:throttle=1"
    aws.reset_clients()

    with pytest.raises(aws.AwsError) as raised:
        grant_removal_run(grant_id=ending.pk)
    assert raised.value.transient
    assert Grant.objects.get(pk=ending.pk).state == Grant.State.ENDING

    assert grant_removal_run(grant_id=ending.pk) == "ended"
    ending.refresh_from_db()
    assert ending.attempts == 2
    assert iam_groups_of(ending.iam_account.user_name) == []


def test_a_permanent_refusal_is_recorded_once_and_the_security_admins_told(
    ending: Grant, settings: Any, security_admin: Any
) -> None:
    settings.AWS_FAULT_INJECTION = "before:RemoveUserFromGroup:error=AccessDenied"
    aws.reset_clients()
    mail.outbox.clear()

    assert grant_removal_run(grant_id=ending.pk) == "failed"
    assert grant_removal_run(grant_id=ending.pk) == "failed"

    ending.refresh_from_db()
    assert ending.state == Grant.State.ENDING
    assert "AccessDenied" in ending.failure_reason
    assert AuditEvent.objects.filter(action="grant.removal_failed").count() == 1
    (told,) = [m for m in mail.outbox if "could not be removed" in m.subject]
    assert told.to == [security_admin.email]

    settings.AWS_FAULT_INJECTION = ""
    aws.reset_clients()
    assert grant_removal_run(grant_id=ending.pk) == "ended"
    assert Grant.objects.get(pk=ending.pk).failure_reason == ""


def test_a_grant_of_an_offboarded_iam_user_ends_without_calling_aws(ending: Grant) -> None:
    IamAccount.objects.filter(pk=ending.iam_account_id).update(status=IamAccount.Status.DELETED)

    assert grant_removal_run(grant_id=ending.pk) == "ended"

    event = AuditEvent.objects.get(action="iam.group.removed")
    assert event.data["removed"] is False and event.data["aws_request_ids"] == []


def test_offboarding_ends_live_grants_as_offboarded_and_finishes_ending_ones(
    grant_access: Any, ending: Grant, employee: Any, manager: Any, hr_person: Any
) -> None:
    live = grant_access(employee, manager)
    offboarding = OffboardingFactory(person=employee, started_by=hr_person)

    ended = grants_end_for_offboarding(account=live.iam_account, offboarding_id=offboarding.pk)

    assert sorted(ended) == sorted([live.role_group.name, ending.role_group.name])
    live.refresh_from_db()
    ending.refresh_from_db()
    assert (live.state, live.end) == (Grant.State.ENDED, Grant.End.OFFBOARDED)
    assert (ending.state, ending.end) == (Grant.State.ENDED, Grant.End.REVOKED)
    (event,) = AuditEvent.objects.filter(action="grant.offboarded")
    assert event.data["grant"] == live.pk and event.data["offboarding"] == offboarding.pk
    # The removal enqueued by the revocation finds nothing left to do.
    assert grant_removal_run(grant_id=ending.pk) == "skipped"


def test_a_removal_whose_task_was_lost_is_enqueued_again_by_the_sweep(
    ending: Grant, settings: Any
) -> None:
    import time_machine

    from provisioning.lifecycle.expiry import removals_sweep

    # The revocation's task never ran (the broker was down): the grant waits, ending.
    assert removals_sweep() == []
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.LIFECYCLE_STALE_SECONDS + 1)
    ):
        assert removals_sweep() == [ending.pk]

    assert Grant.objects.get(pk=ending.pk).state == Grant.State.ENDED
    assert iam_groups_of(ending.iam_account.user_name) == []


def test_asking_again_while_the_old_grant_is_being_removed_waits_for_the_removal(
    ending: Grant, employee: Any
) -> None:
    from provisioning.onboarding.claims import ProvisioningDeferred
    from provisioning.onboarding.run import access_request_provision
    from tests.provisioning.strict_onboarding import approved_request

    again = approved_request(
        employee,
        access_type="console",
        role_group=ending.role_group,
        iam_user_name=ending.iam_account.user_name,
        iam_account=ending.iam_account,
    )
    with pytest.raises(ProvisioningDeferred, match="still being removed"):
        access_request_provision(request_id=again.pk)
    assert Grant.objects.filter(role_group=ending.role_group).count() == 1

    assert grant_removal_run(grant_id=ending.pk) == "ended"
    assert access_request_provision(request_id=again.pk) == "active"

    live = Grant.objects.get(role_group=ending.role_group, revoked_at__isnull=True)
    assert live.pk != ending.pk and live.request_id == again.pk
    assert iam_groups_of(ending.iam_account.user_name) == [ending.role_group.iam_group_name]
