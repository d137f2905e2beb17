"""The compliance page's figures for an account seeded with known failures, and setting the
CIS password policy (through a confirm step)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.guardrails.compliance import compliance_snapshot
from provisioning.guardrails.models import ComplianceSnapshot
from provisioning.models import RoleGroup
from tests.factories import ComplianceSnapshotFactory
from tests.guardrails_strict import set_key_created, set_root
from tests.provisioning.guardrails.conftest import make_iam_user, signed_in

pytestmark = pytest.mark.django_db

ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def seed_failures(employee: Any, manager: Any) -> None:
    """Root with keys and no MFA; no password policy; a console user without MFA; a user with
    two active keys, one 100 days old; a policy straight on a user; "*:*" on a plain group
    (and on the sensitive Administrators group, which is allowed)."""
    set_root(mfa=False, access_keys=True)
    make_iam_user(employee, "console-no-mfa", key=False, console=True)
    two_keys = make_iam_user(manager, "two-keys")
    old_key = two_keys.access_keys.get().access_key_id
    set_key_created(old_key, dt.datetime.now(dt.UTC) - dt.timedelta(days=100))
    gateway.create_access_key("two-keys")
    admin = gateway.call("CreatePolicy", PolicyName="everything", PolicyDocument=json.dumps(ADMIN))
    arn = admin["Policy"]["Arn"]
    gateway.call("AttachUserPolicy", UserName="two-keys", PolicyArn=arn)
    gateway.call("CreateGroup", GroupName="ops-hand-made")
    gateway.call("AttachGroupPolicy", GroupName="ops-hand-made", PolicyArn=arn)
    sensitive = RoleGroup.objects.get(name="Administrators").iam_group_name
    gateway.call("CreateGroup", GroupName=sensitive)
    gateway.call("AttachGroupPolicy", GroupName=sensitive, PolicyArn=arn)


def _by_id(snapshot: ComplianceSnapshot) -> dict[str, dict[str, Any]]:
    return {control["id"]: control for control in snapshot.controls}


def test_an_account_with_known_failures_scores_as_expected(
    strict: Any, employee: Any, manager: Any
) -> None:
    seed_failures(employee, manager)

    snapshot = compliance_snapshot()

    controls = _by_id(snapshot)
    failing = {
        cid: control["failing"] for cid, control in controls.items() if not control["passed"]
    }
    assert failing == {
        "1.4": ["root user"],
        "1.5": ["root user"],
        "1.8": ["password policy"],
        "1.9": ["password policy"],
        "1.10": ["console-no-mfa"],
        "1.12": ["two-keys (access key 1)"],
        "1.13": ["two-keys"],
        "1.14": ["two-keys (access key 1)"],
        "1.15": ["two-keys"],
        "1.16": ["group ops-hand-made", "user two-keys"],
    }
    assert (snapshot.passed, snapshot.total) == (0, 10)
    assert AuditEvent.objects.get(action="compliance.scored").data["failing"] == list(failing)


def test_a_clean_account_passes_every_control(strict: Any, employee: Any) -> None:
    set_root(mfa=True, access_keys=False)
    gateway.update_password_policy(gateway.CIS_PASSWORD_POLICY)
    make_iam_user(employee, "tidy")

    snapshot = compliance_snapshot()

    assert (snapshot.passed, snapshot.total) == (10, 10)


def test_the_page_shows_the_score_each_failing_user_and_the_fix(
    strict: Any, employee: Any, manager: Any, security_admin: Any
) -> None:
    seed_failures(employee, manager)
    compliance_snapshot()

    page = signed_in(security_admin).get(reverse("guardrails_compliance")).content.decode()

    assert "0 of 10 controls pass (0%)" in page
    assert "<code>console-no-mfa</code>" in page
    assert "Each person sets up MFA from My access" in page
    assert '<svg class="chart"' in page


def test_the_history_chart_has_a_point_per_check(security_admin: Any) -> None:
    for passed in (4, 6, 9):
        ComplianceSnapshotFactory(passed=passed, total=10)

    page = signed_in(security_admin).get(reverse("guardrails_compliance")).content.decode()

    assert page.count('class="chart-dot"') == 3
    assert ": 40%; " in page and ": 90%</desc>" in page


def test_an_empty_history_says_so(security_admin: Any) -> None:
    page = signed_in(security_admin).get(reverse("guardrails_compliance")).content.decode()

    assert "No score yet" in page


def test_the_cis_password_policy_is_set_after_a_confirm_step(
    strict: Any, security_admin: Any
) -> None:
    client = signed_in(security_admin)
    confirm = client.get(reverse("guardrails_password_policy")).content.decode()
    assert "MinimumPasswordLength" in confirm and "no password policy" in confirm
    assert "UpdateAccountPasswordPolicy" not in strict.operations()

    client.post(reverse("guardrails_password_policy"))

    policy = gateway.account_password_policy()
    assert policy["MinimumPasswordLength"] == 14 and policy["PasswordReusePrevention"] == 24
    event = AuditEvent.objects.get(action="iam.password_policy.updated")
    assert event.actor_id == security_admin.pk and event.data["before"] is None


def test_the_strict_layer_refuses_password_policy_values_aws_refuses(strict: Any) -> None:
    with pytest.raises(gateway.AwsError, match="ValidationError"):
        gateway.update_password_policy({"MinimumPasswordLength": 200})
