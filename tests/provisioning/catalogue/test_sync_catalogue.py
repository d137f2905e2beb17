"""`manage.py sync_catalogue` and the "Sync to AWS" button, against moto."""

from __future__ import annotations

import json
from io import StringIO
from urllib.parse import unquote

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEvent
from provisioning import aws as gateway
from provisioning.models import RoleGroup

ACCOUNT = "123456789012"
MFA_POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{gateway.MFA_POLICY_NAME}"
SEEDED = {
    "portal-developers": {
        "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
        MFA_POLICY_ARN,
    },
    "portal-analysts": {"arn:aws:iam::aws:policy/ReadOnlyAccess", MFA_POLICY_ARN},
    "portal-administrators": {"arn:aws:iam::aws:policy/AdministratorAccess", MFA_POLICY_ARN},
}


@pytest.fixture
def iam_own_policies(aws: None) -> dict[str, set[str]]:
    """The seeded catalogue pointed at customer-managed policies made in the account, so moto
    need not load AWS's. Returns each group's expected policies."""
    expected: dict[str, set[str]] = {}
    for role_group in RoleGroup.objects.all():
        arns = []
        for arn in role_group.managed_policy_arns:
            name = "own-" + arn.rsplit("/", 1)[1]
            document = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
            gateway.call("CreatePolicy", PolicyName=name, PolicyDocument=json.dumps(document))
            arns.append(f"arn:aws:iam::{ACCOUNT}:policy/{name}")
        role_group.managed_policy_arns = arns
        role_group.save(update_fields=["managed_policy_arns"])
        expected[role_group.iam_group_name] = {*arns, MFA_POLICY_ARN}
    return expected


def _sync() -> str:
    out = StringIO()
    call_command("sync_catalogue", stdout=out)
    return out.getvalue()


def _attached(group: str) -> set[str]:
    return {
        p["PolicyArn"]
        for p in gateway.call("ListAttachedGroupPolicies", GroupName=group)["AttachedPolicies"]
    }


def _groups() -> set[str]:
    return {g["GroupName"] for g in gateway.call("ListGroups")["Groups"]}


@pytest.mark.django_db
def test_sync_creates_every_group_with_its_policies_and_the_mfa_policy(
    load_aws_managed_policies,
):
    output = _sync()

    assert _groups() == set(SEEDED)
    for group, policies in SEEDED.items():
        assert _attached(group) == policies
        assert f"created group {group}" in output
    assert f"created or updated policy {gateway.MFA_POLICY_NAME}" in output


@pytest.mark.django_db
def test_a_second_sync_changes_nothing_and_says_so(iam_own_policies):
    _sync()
    assert _sync().strip() == "Nothing changed: AWS already matches the catalogue."
    assert AuditEvent.objects.filter(action="catalogue.synced").count() == 2
    first, second = AuditEvent.objects.filter(action="catalogue.synced").order_by("id")
    assert len(first.data["aws_request_ids"]) >= len(first.data["changes"]) > 0
    assert second.data == {"changes": []}


@pytest.mark.django_db
def test_the_mfa_policy_denies_everything_but_mfa_self_service_without_mfa(iam_own_policies):
    _sync()
    version = gateway.call("GetPolicy", PolicyArn=MFA_POLICY_ARN)["Policy"]["DefaultVersionId"]
    document = gateway.call("GetPolicyVersion", PolicyArn=MFA_POLICY_ARN, VersionId=version)[
        "PolicyVersion"
    ]["Document"]
    if isinstance(document, str):
        document = json.loads(unquote(document))

    denials = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert len(denials) == 1
    deny = denials[0]
    assert deny["Resource"] == "*"
    assert "Action" not in deny  # NotAction: everything except the listed self-service calls
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    exempt = set(deny["NotAction"])
    assert {"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "sts:GetSessionToken"} <= exempt
    assert not any(action.endswith("*") for action in exempt)
    assert not exempt & {"iam:CreateAccessKey", "iam:AttachUserPolicy", "s3:GetObject"}


@pytest.mark.django_db
def test_a_catalogue_edit_is_applied_at_the_next_sync(iam_own_policies):
    _sync()
    kept, dropped = sorted(iam_own_policies["portal-developers"] - {MFA_POLICY_ARN})
    RoleGroup.objects.filter(iam_group_name="portal-developers").update(managed_policy_arns=[kept])

    output = _sync()

    assert _attached("portal-developers") == {kept, MFA_POLICY_ARN}
    assert f"detached {dropped} from portal-developers" in output
    assert _attached("portal-analysts") == iam_own_policies["portal-analysts"]


@pytest.mark.django_db
def test_inactive_role_groups_are_left_alone(iam_own_policies):
    RoleGroup.objects.filter(iam_group_name="portal-administrators").update(active=False)
    _sync()
    assert "portal-administrators" not in _groups()


@pytest.mark.django_db
def test_a_policy_that_does_not_exist_stops_the_sync_with_a_clear_error(
    load_aws_managed_policies,
):
    RoleGroup.objects.filter(iam_group_name="portal-analysts").update(
        managed_policy_arns=["arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"]
    )
    with pytest.raises(CommandError, match="NoSuchEntity"):
        _sync()
    event = AuditEvent.objects.get(action="catalogue.synced")
    assert "NoSuchEntity" in event.data["error"]
    # What came before the refusal stays done, and the trail says what it was.
    assert "created group portal-administrators" in event.data["changes"]


@pytest.mark.django_db
def test_unreachable_aws_stops_the_command_without_a_traceback(settings):
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.AWS_MAX_ATTEMPTS = 1
    settings.AWS_CONNECT_TIMEOUT = 1
    gateway.reset_clients()
    try:
        with pytest.raises(CommandError, match="ConnectionError"):
            _sync()
    finally:
        gateway.reset_clients()


@pytest.mark.django_db
def test_the_sync_button_shows_what_changed(iam_own_policies, client, security_admin):
    client.force_login(security_admin)

    response = client.post(reverse("catalogue_sync"), follow=True)

    page = response.content.decode()
    assert "Synced to AWS: 11 change(s)" in page
    assert "created group portal-analysts" in page
    assert f"by {security_admin.email}" in page
    assert _groups() == set(SEEDED)

    again = client.post(reverse("catalogue_sync"), follow=True).content.decode()
    assert "nothing changed, AWS already matched" in again


@pytest.mark.django_db
def test_the_sync_button_reports_an_aws_refusal_as_a_message(
    iam_own_policies, client, security_admin
):
    RoleGroup.objects.filter(iam_group_name="portal-analysts").update(
        managed_policy_arns=["arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"]
    )
    client.force_login(security_admin)
    page = client.post(reverse("catalogue_sync"), follow=True).content.decode()
    assert "Sync stopped" in page
    assert "NoSuchEntity" in page
