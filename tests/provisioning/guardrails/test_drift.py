"""Drift: a scan finds, for each kind, what IAM holds that the portal did not make; a security
admin removes, adopts or accepts each finding, audited; an accepted one comes back after its
date, a removed one that is back reopens."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.errors import PortalError
from provisioning.guardrails.drift import drift_scan
from provisioning.guardrails.drift_actions import (
    drift_finding_accept,
    drift_finding_adopt,
    drift_finding_remove,
)
from provisioning.guardrails.models import DriftFinding
from provisioning.models import AccessKeyRecord, Grant, IamAccount, RoleGroup
from tests.factories import AccessRequestFactory, GrantFactory
from tests.provisioning.guardrails.conftest import make_iam_user, signed_in

pytestmark = pytest.mark.django_db
Kind = DriftFinding.Kind


def seed_drift(employee: Any) -> dict[str, Any]:
    """An account with one of each kind of drift, beside a clean portal user."""
    developers = RoleGroup.objects.get(name="Developers")
    gateway.call("CreateGroup", GroupName=developers.iam_group_name)
    account = make_iam_user(employee, "employee")
    AccessRequestFactory(
        requester=employee,
        iam_account=account,
        access_type="programmatic",
        status="active",
        role_group=developers,
    )
    GrantFactory(iam_account=account, role_group=developers)
    gateway.call("AddUserToGroup", UserName="employee", GroupName=developers.iam_group_name)
    # Made by hand, outside the portal:
    gateway.call("CreateUser", UserName="contractor")
    gateway.call("AddUserToGroup", UserName="contractor", GroupName=developers.iam_group_name)
    policy = gateway.call(
        "CreatePolicy",
        PolicyName="hand-made",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    gateway.call("AttachUserPolicy", UserName="employee", PolicyArn=policy)
    stray_key, _ = gateway.create_access_key("employee")
    gateway.call("CreateLoginProfile", UserName="employee", Password="Hand-made-pass-123!")
    return {"account": account, "policy": policy, "stray_key": stray_key, "group": developers}


def _open() -> set[tuple[str, str, str]]:
    return set(
        DriftFinding.objects.filter(status="open").values_list("kind", "iam_user_name", "subject")
    )


def test_a_scan_finds_each_kind_of_drift_and_tells_the_security_admins(
    strict: Any, employee: Any, security_admin: Any
) -> None:
    seeded = seed_drift(employee)

    counts = drift_scan()

    group = seeded["group"].iam_group_name
    assert _open() == {
        (Kind.UNMANAGED_USER, "contractor", ""),
        (Kind.UNGRANTED_MEMBERSHIP, "contractor", group),
        (Kind.DIRECT_POLICY, "employee", seeded["policy"]),
        (Kind.UNRECORDED_KEY, "employee", seeded["stray_key"]),
        (Kind.UNRECORDED_LOGIN_PROFILE, "employee", ""),
    }
    assert counts["found"] == 5
    (message,) = mail.outbox
    assert message.to == [security_admin.email] and "5 new findings" in message.subject
    assert drift_scan()["found"] == 0  # seen again: nothing new, nobody emailed twice
    assert len(mail.outbox) == 1


def test_removing_a_finding_takes_it_out_of_iam_and_is_audited(
    strict: Any, employee: Any, security_admin: Any
) -> None:
    seeded = seed_drift(employee)
    drift_scan()
    findings = {f.kind: f for f in DriftFinding.objects.filter(iam_user_name="employee")}

    for kind in (Kind.DIRECT_POLICY, Kind.UNRECORDED_KEY, Kind.UNRECORDED_LOGIN_PROFILE):
        drift_finding_remove(actor=security_admin, finding_id=findings[kind].pk)
    membership = DriftFinding.objects.get(kind=Kind.UNGRANTED_MEMBERSHIP)
    drift_finding_remove(actor=security_admin, finding_id=membership.pk)

    assert gateway.attached_user_policies("employee") == []
    keys = [k.access_key_id for k in gateway.access_keys_of("employee", with_last_use=False)]
    assert seeded["stray_key"] not in keys and len(keys) == 1
    assert not gateway.login_profile_exists("employee")
    assert gateway.groups_of("contractor") == []
    assert (
        AuditEvent.objects.filter(
            action="drift.finding.removed", actor_id=security_admin.pk
        ).count()
        == 4
    )
    assert drift_scan()["gone"] == 0
    assert _open() == {(Kind.UNMANAGED_USER, "contractor", "")}


def test_an_unmanaged_user_is_adopted_and_then_follows_the_portal(
    strict: Any, employee: Any, manager: Any, security_admin: Any
) -> None:
    seed_drift(employee)
    contractor_key, _ = gateway.create_access_key("contractor")
    drift_scan()
    finding = DriftFinding.objects.get(kind=Kind.UNMANAGED_USER)

    with pytest.raises(PortalError, match="does not delete IAM users"):
        drift_finding_remove(actor=security_admin, finding_id=finding.pk)
    account = drift_finding_adopt(actor=security_admin, finding_id=finding.pk, owner=manager)

    assert IamAccount.objects.get(user_name="contractor").owner == manager
    assert AccessKeyRecord.objects.filter(
        iam_account=account, access_key_id=contractor_key
    ).exists()
    assert Grant.objects.filter(iam_account=account, revoked_at__isnull=True).count() == 1
    assert gateway.user_tags("contractor")[gateway.OWNER_TAG] == manager.email
    drift_scan()
    assert not any(user == "contractor" for _, user, _ in _open())
    event = AuditEvent.objects.get(action="drift.finding.adopted")
    assert event.data["owner"] == manager.email and event.data["access_keys"] == [contractor_key]


def test_an_accepted_finding_stays_quiet_until_its_date_then_reopens(
    strict: Any, employee: Any, security_admin: Any
) -> None:
    seed_drift(employee)
    drift_scan()
    finding = DriftFinding.objects.get(kind=Kind.UNMANAGED_USER)
    until = timezone.localdate() + dt.timedelta(days=30)

    with pytest.raises(PortalError, match="at least 10 characters"):
        drift_finding_accept(actor=security_admin, finding_id=finding.pk, reason="ok", until=until)
    drift_finding_accept(
        actor=security_admin,
        finding_id=finding.pk,
        reason="The auditors' read-only user, reviewed yearly.",
        until=until,
    )
    drift_scan()
    finding.refresh_from_db()
    assert finding.status == DriftFinding.Status.ACCEPTED
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        drift_scan()
    finding.refresh_from_db()
    assert finding.status == DriftFinding.Status.OPEN
    assert AuditEvent.objects.filter(action="drift.finding.reopened").exists()


def test_only_security_admins_act_on_findings(strict: Any, employee: Any) -> None:
    seed_drift(employee)
    drift_scan()
    finding = DriftFinding.objects.get(kind=Kind.DIRECT_POLICY)

    with pytest.raises(PortalError, match="Only security admins"):
        drift_finding_remove(actor=employee, finding_id=finding.pk)
    response = signed_in(employee).post(
        reverse("guardrails_drift_finding", args=[finding.pk]), {"action": "remove"}
    )

    assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.status == DriftFinding.Status.OPEN


def test_the_finding_page_removes_accepts_and_adopts(
    strict: Any, employee: Any, manager: Any, security_admin: Any
) -> None:
    seed_drift(employee)
    drift_scan()
    client = signed_in(security_admin)
    policy = DriftFinding.objects.get(kind=Kind.DIRECT_POLICY)
    key = DriftFinding.objects.get(kind=Kind.UNRECORDED_KEY)
    user = DriftFinding.objects.get(kind=Kind.UNMANAGED_USER)
    url = lambda finding: reverse("guardrails_drift_finding", args=[finding.pk])  # noqa: E731

    assert "Remove it from IAM" in client.get(url(policy)).content.decode()
    removed = client.post(url(policy), {"action": "remove"}, follow=True)
    bad_date = client.post(
        url(key), {"action": "accept", "reason": "Short-lived test key.", "until": "2001-01-01"}
    )
    accepted = client.post(
        url(key),
        {
            "action": "accept",
            "reason": "Short-lived test key.",
            "until": str(timezone.localdate() + dt.timedelta(days=7)),
        },
        follow=True,
    )
    unknown = client.post(url(user), {"action": "adopt", "owner": "nobody@example.com"})
    adopted = client.post(url(user), {"action": "adopt", "owner": manager.email}, follow=True)

    assert "Removed from IAM" in removed.content.decode()
    assert "Pick a date after today" in bad_date.content.decode()
    assert "Accepted" in accepted.content.decode()
    assert "No current person" in unknown.content.decode()
    assert "is now" in adopted.content.decode()
    statuses = dict(DriftFinding.objects.values_list("pk", "status"))
    assert (statuses[policy.pk], statuses[key.pk], statuses[user.pk]) == (
        "removed",
        "accepted",
        "adopted",
    )
