"""Expired, uncollected links: the sweeper wipes their sealed secrets, switches their access
key off in AWS, and tells the person and the security admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.credentials import links
from provisioning.credentials.expiry import uncollected_links_sweep
from provisioning.models import CredentialLink
from tests.factories import IamAccountFactory

pytestmark = pytest.mark.django_db


def _issued_with_a_live_key(owner: Any) -> CredentialLink:
    gateway.call("CreateUser", UserName="erin")
    key = gateway.call("CreateAccessKey", UserName="erin")["AccessKey"]
    account = IamAccountFactory(owner=owner, user_name="erin")
    link = links.credential_link_pending(iam_account=account)
    links.credential_link_seal_password(link=link, password="Generated-pass-123!")
    links.credential_link_seal_access_key(
        link=link, access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    links.credential_link_issue(link=link)
    return link


def _status(key_id: str) -> str:
    [key] = gateway.call("ListAccessKeys", UserName="erin")["AccessKeyMetadata"]
    assert key["AccessKeyId"] == key_id
    return key["Status"]


def test_an_expired_link_is_wiped_its_key_switched_off_and_people_told(
    aws: None, employee: Any, security_admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = _issued_with_a_live_key(employee)
    assert uncollected_links_sweep() == []  # not expired yet: nothing happens
    assert _status(link.access_key_id) == "Active"

    later = timezone.now() + timedelta(hours=25)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert uncollected_links_sweep() == [link.pk]

    link.refresh_from_db()
    assert link.sealed_password is None and link.sealed_secret_key is None
    assert link.wiped_at is not None and link.key_deactivated_at is not None
    assert _status(link.access_key_id) == "Inactive"
    assert AuditEvent.objects.filter(action="credential.expired").count() == 1
    assert AuditEvent.objects.get(action="iam.access_key.deactivated").data["access_key_id"] == (
        link.access_key_id
    )
    assert {tuple(m.to) for m in mail.outbox} == {(employee.email,), (security_admin.email,)}
    # Sweeping again changes nothing and tells nobody twice.
    mail.outbox.clear()
    with time_machine.travel(later):
        assert uncollected_links_sweep() == []
    assert mail.outbox == []


def test_a_key_aws_would_not_switch_off_is_tried_again_at_the_next_sweep(
    aws: None, employee: Any, settings: Any
) -> None:
    link = _issued_with_a_live_key(employee)
    later = timezone.now() + timedelta(hours=25)
    settings.AWS_FAULT_INJECTION = "before:UpdateAccessKey:error=ServiceUnavailable"
    gateway.reset_clients()
    with time_machine.travel(later):
        uncollected_links_sweep()
    link.refresh_from_db()
    assert link.wiped_at is not None and link.key_deactivated_at is None
    settings.AWS_FAULT_INJECTION = ""
    gateway.reset_clients()
    with time_machine.travel(later):
        uncollected_links_sweep()
    link.refresh_from_db()
    assert link.key_deactivated_at is not None
    assert _status(link.access_key_id) == "Inactive"
