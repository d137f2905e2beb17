"""Key rotation from My access: a new key through a one-time link (sealed like any credential),
the old key kept for the overlap, then deactivated once the new key is used or the overlap
ends, then deleted."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.guardrails.models import KeyRotation
from provisioning.guardrails.rotation_finish import key_rotations_sweep
from provisioning.models import AccessKeyRecord
from tests.factories import UserFactory
from tests.guardrails_strict import set_key_last_used
from tests.provisioning.guardrails.conftest import signed_in

pytestmark = pytest.mark.django_db
LINK = re.compile(r"/access/credentials/([A-Za-z0-9_\-]+)/")


def _keys(user_name: str) -> dict[str, str]:
    listed = gateway.call("ListAccessKeys", UserName=user_name)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in listed}


def _rotate(client: Any, account: Any, capture: Any) -> KeyRotation:
    with capture(execute=True):
        response = client.post(reverse("guardrails_rotate_key", args=[account.pk]), follow=True)
    assert "check your email" in response.content.decode()
    return KeyRotation.objects.get(iam_account=account)


def test_a_rotation_sends_the_new_key_once_through_a_link_and_keeps_the_old_one_for_now(
    employee: Any, employee_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(employee)
    (old,) = _keys("employee")

    rotation = _rotate(client, employee_account, django_capture_on_commit_callbacks)

    assert rotation.status == KeyRotation.Status.OVERLAP
    assert _keys("employee") == {old: "Active", rotation.new_access_key_id: "Active"}
    (message,) = mail.outbox
    assert message.subject == "Your new access key for IAM user employee"
    path = LINK.search(message.body).group(0)
    page = client.post(path).content.decode()
    assert rotation.new_access_key_id in page
    assert client.post(path).status_code == 410
    assert AccessKeyRecord.objects.filter(access_key_id=rotation.new_access_key_id).exists()


def test_the_old_key_goes_once_the_overlap_ends(
    employee: Any, employee_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    (old,) = _keys("employee")
    rotation = _rotate(signed_in(employee), employee_account, django_capture_on_commit_callbacks)

    assert key_rotations_sweep()["waiting"] == 1
    assert old in _keys("employee")
    with time_machine.travel(timezone.now() + dt.timedelta(days=7, hours=1)):
        assert key_rotations_sweep()["completed"] == 1

    assert _keys("employee") == {rotation.new_access_key_id: "Active"}
    rotation.refresh_from_db()
    assert rotation.status == KeyRotation.Status.COMPLETED
    assert AccessKeyRecord.objects.get(access_key_id=old).deleted_at is not None
    actions = list(
        AuditEvent.objects.filter(target=rotation.audit_target)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == [
        "iam.access_key.deactivated",
        "iam.access_key.deleted",
        "key_rotation.completed",
    ]
    assert "is gone" in mail.outbox[-1].subject


def test_the_old_key_goes_as_soon_as_the_new_one_is_used(
    employee: Any, employee_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    (old,) = _keys("employee")
    rotation = _rotate(signed_in(employee), employee_account, django_capture_on_commit_callbacks)

    set_key_last_used(rotation.new_access_key_id, dt.datetime.now(dt.UTC))
    assert key_rotations_sweep()["completed"] == 1

    assert old not in _keys("employee")
    rotation.refresh_from_db()
    assert rotation.new_key_first_used_at is not None


def test_a_second_rotation_while_one_is_under_way_is_refused(
    employee: Any, employee_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(employee)
    _rotate(client, employee_account, django_capture_on_commit_callbacks)

    response = client.post(
        reverse("guardrails_rotate_key", args=[employee_account.pk]), follow=True
    )

    assert "already under way" in response.content.decode()
    assert KeyRotation.objects.count() == 1


def test_only_the_owner_rotates_their_key(employee_account: Any) -> None:
    stranger = signed_in(UserFactory())
    url = reverse("guardrails_rotate_key", args=[employee_account.pk])

    assert stranger.get(url).status_code == 404
    assert stranger.post(url).status_code == 404
    assert not KeyRotation.objects.exists()


def test_a_key_the_portal_never_recorded_is_deleted_before_the_new_one_is_made(
    employee: Any, employee_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # As a rotation killed between CreateAccessKey and recording it leaves one.
    stray, _ = gateway.create_access_key("employee")
    (old,) = [key for key in _keys("employee") if key != stray]

    rotation = _rotate(signed_in(employee), employee_account, django_capture_on_commit_callbacks)

    assert set(_keys("employee")) == {old, rotation.new_access_key_id}
    assert stray != rotation.new_access_key_id


def test_a_rotation_asked_for_before_an_offboarding_makes_no_key(
    employee: Any, employee_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from provisioning.guardrails.rotation import key_rotation_request, key_rotation_run

    rotation = key_rotation_request(actor=employee, iam_account_id=employee_account.pk)
    type(employee).objects.filter(pk=employee.pk).update(is_active=False)

    assert key_rotation_run(rotation_id=rotation.pk) == "failed"
    assert len(_keys("employee")) == 1
    rotation.refresh_from_db()
    assert "has left" in rotation.failure_reason
