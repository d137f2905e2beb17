"""Provisioning an approved request (service and task, run eagerly against in-process moto)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from audit.models import AuditEvent
from provisioning import aws
from provisioning.credentials import crypto, links
from provisioning.models import (
    AccessKeyRecord,
    AccessRequest,
    CredentialLink,
    Grant,
    IamAccount,
)
from provisioning.onboarding.run import access_request_provision
from provisioning.tasks import provision_access_request
from tests.factories import RoleGroupFactory
from tests.provisioning.strict_onboarding import approved_request

pytestmark = pytest.mark.django_db

Status = AccessRequest.Status
AccessType = AccessRequest.AccessType


def _iam() -> Any:
    return aws.client()


def _links(access_request: AccessRequest) -> list[CredentialLink]:
    return list(CredentialLink.objects.filter(request=access_request))


def test_approved_request_ends_active_with_user_group_password_and_key(
    strict: Any, employee: Any
) -> None:
    access_request = approved_request(employee, access_type=AccessType.BOTH)

    provision_access_request.delay(access_request.pk)

    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE
    assert access_request.provisioned_at is not None
    assert access_request.steps_done == [
        "iam_user",
        "group",
        "console",
        "access_key",
        "notify",
        "active",
    ]
    name = access_request.iam_user_name
    tags = {t["Key"]: t["Value"] for t in _iam().list_user_tags(UserName=name)["Tags"]}
    assert tags[aws.OWNER_TAG] == employee.email
    assert tags[aws.REQUEST_TAG] == str(access_request.pk)
    groups = [g["GroupName"] for g in _iam().list_groups_for_user(UserName=name)["Groups"]]
    assert groups == [access_request.role_group.iam_group_name]
    assert _iam().get_login_profile(UserName=name)["LoginProfile"]["UserName"] == name
    keys = _iam().list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert len(keys) == 1
    account = IamAccount.objects.get(owner=employee)
    assert account.user_name == name and account.arn.endswith(f":user/{name}")
    assert Grant.objects.filter(iam_account=account, role_group=access_request.role_group).exists()
    assert list(AccessKeyRecord.objects.values_list("access_key_id", flat=True)) == [
        keys[0]["AccessKeyId"]
    ]
    (link,) = _links(access_request)
    assert link.token_hash and link.expires_at and link.access_key_id == keys[0]["AccessKeyId"]
    assert link.sealed_password is not None and link.sealed_secret_key is not None


def test_console_only_request_creates_no_access_key(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee, access_type=AccessType.CONSOLE)

    provision_access_request.delay(access_request.pk)

    name = access_request.iam_user_name
    assert _iam().list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    assert _iam().get_login_profile(UserName=name)
    assert "CreateAccessKey" not in strict.operations()


def test_programmatic_only_request_creates_no_console_password(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee, access_type=AccessType.PROGRAMMATIC)

    provision_access_request.delay(access_request.pk)

    name = access_request.iam_user_name
    with pytest.raises(_iam().exceptions.NoSuchEntityException):
        _iam().get_login_profile(UserName=name)
    assert len(_iam().list_access_keys(UserName=name)["AccessKeyMetadata"]) == 1
    (link,) = _links(access_request)
    assert link.sealed_password is None and link.sealed_secret_key is not None


def test_console_password_is_sent_with_reset_required_and_meets_a_strict_policy(
    strict: Any, employee: Any
) -> None:
    _iam().update_account_password_policy(
        MinimumPasswordLength=32,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
    )
    sent: list[dict[str, Any]] = []
    # moto ignores both: assert what the portal actually asked AWS for.
    _iam().meta.events.register(
        "provide-client-params.iam.CreateLoginProfile", lambda params, **_: sent.append(params)
    )
    access_request = approved_request(employee, access_type=AccessType.CONSOLE)

    provision_access_request.delay(access_request.pk)

    (params,) = sent
    assert params["PasswordResetRequired"] is True
    assert len(params["Password"]) >= 32
    assert strict.policy().problems(params["Password"]) == []
    assert AccessRequest.objects.get(pk=access_request.pk).status == Status.ACTIVE


def test_password_is_sealed_and_stored_before_aws_is_asked_to_set_it(
    strict: Any, employee: Any
) -> None:
    access_request = approved_request(employee, access_type=AccessType.CONSOLE)
    seen: list[tuple[str, str | None]] = []

    def check_stored(params: dict[str, Any], **_: Any) -> None:
        link = CredentialLink.objects.get(request=access_request)
        stored = links.credential_link_sealed_password(link=link)
        seen.append((params["Password"], stored))

    _iam().meta.events.register("provide-client-params.iam.CreateLoginProfile", check_stored)

    provision_access_request.delay(access_request.pk)

    ((sent_password, stored_password),) = seen
    assert stored_password == sent_password


def test_a_person_with_an_iam_user_gets_it_updated_never_a_second_one(
    strict: Any, employee: Any
) -> None:
    first = approved_request(employee, access_type=AccessType.CONSOLE)
    provision_access_request.delay(first.pk)
    mail.outbox.clear()
    account = IamAccount.objects.get(owner=employee)
    change = approved_request(
        employee, access_type=AccessType.BOTH, iam_user_name=account.user_name, iam_account=account
    )
    strict.calls.clear()

    provision_access_request.delay(change.pk)

    change.refresh_from_db()
    assert change.status == Status.ACTIVE
    assert IamAccount.objects.filter(owner=employee).count() == 1
    assert "CreateUser" not in strict.operations()
    # The console password the person already has stays theirs: no new one is made.
    assert "CreateLoginProfile" not in strict.operations()
    assert "UpdateLoginProfile" not in strict.operations()
    assert len(_iam().list_groups_for_user(UserName=account.user_name)["Groups"]) == 2
    assert len(_iam().list_access_keys(UserName=account.user_name)["AccessKeyMetadata"]) == 1
    (link,) = _links(change)
    assert link.sealed_password is None and link.sealed_secret_key is not None
    assert len(mail.outbox) == 1


def test_a_change_that_drops_programmatic_access_deletes_the_keys(
    strict: Any, employee: Any
) -> None:
    first = approved_request(employee, access_type=AccessType.BOTH)
    provision_access_request.delay(first.pk)
    account = IamAccount.objects.get(owner=employee)
    mail.outbox.clear()
    change = approved_request(
        employee,
        access_type=AccessType.CONSOLE,
        role_group=None,
        iam_user_name=account.user_name,
        iam_account=account,
    )

    provision_access_request.delay(change.pk)

    assert _iam().list_access_keys(UserName=account.user_name)["AccessKeyMetadata"] == []
    assert not AccessKeyRecord.objects.filter(deleted_at__isnull=True).exists()
    assert _iam().get_login_profile(UserName=account.user_name)
    # Nothing new to hand over: the email says the access is ready, with no link.
    (message,) = mail.outbox
    assert "is done" in message.subject
    assert "/credentials/" not in message.body
    assert not _links(change)


def test_a_change_that_drops_console_access_removes_the_login_profile(
    strict: Any, employee: Any
) -> None:
    first = approved_request(employee, access_type=AccessType.BOTH)
    provision_access_request.delay(first.pk)
    account = IamAccount.objects.get(owner=employee)
    change = approved_request(
        employee,
        access_type=AccessType.PROGRAMMATIC,
        role_group=None,
        iam_user_name=account.user_name,
        iam_account=account,
    )

    provision_access_request.delay(change.pk)

    with pytest.raises(_iam().exceptions.NoSuchEntityException):
        _iam().get_login_profile(UserName=account.user_name)
    assert len(_iam().list_access_keys(UserName=account.user_name)["AccessKeyMetadata"]) == 1


def test_every_step_writes_an_audit_row_with_the_aws_request_ids(
    strict: Any, employee: Any
) -> None:
    access_request = approved_request(employee, access_type=AccessType.BOTH)

    provision_access_request.delay(access_request.pk)

    rows = {
        event.action: event.data
        for event in AuditEvent.objects.filter(target=f"access_request:{access_request.pk}")
    }
    for action in (
        "iam.user.created",
        "iam.group.added",
        "iam.login_profile.created",
        "iam.access_key.created",
    ):
        assert rows[action]["aws_request_ids"], action
    assert "request.provisioned" in rows
    assert AuditEvent.objects.filter(action="credential.issued").count() == 1


def test_a_user_name_taken_in_aws_by_someone_else_fails_with_a_readable_reason(
    strict: Any, employee: Any
) -> None:
    access_request = approved_request(employee)
    _iam().create_user(UserName=access_request.iam_user_name)

    provision_access_request.delay(access_request.pk)

    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert "already exists and is not tagged as" in access_request.failure_reason
    assert not IamAccount.objects.exists()


def test_a_missing_iam_group_is_created_with_its_policies(strict: Any, employee: Any) -> None:
    policy = _iam().create_policy(
        PolicyName="read-reports",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}',
    )["Policy"]["Arn"]
    role_group = RoleGroupFactory(managed_policy_arns=[policy])
    access_request = approved_request(
        employee, access_type=AccessType.CONSOLE, role_group=role_group
    )

    provision_access_request.delay(access_request.pk)

    group = access_request.role_group.iam_group_name
    attached = _iam().list_attached_group_policies(GroupName=group)["AttachedPolicies"]
    # Its catalogue policy, and the portal's MFA policy every group carries.
    assert sorted(p["PolicyArn"] for p in attached) == sorted(
        [policy, "arn:aws:iam::123456789012:policy/PortalRequireMFA"]
    )


def test_a_retry_does_not_go_green_while_the_group_lacks_a_catalogue_policy(
    strict: Any, employee: Any, security_admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from provisioning.onboarding.sweep import access_request_retry

    typo = "arn:aws:iam::123456789012:policy/read-reprots"
    role_group = RoleGroupFactory(managed_policy_arns=[typo])
    access_request = approved_request(
        employee, access_type=AccessType.CONSOLE, role_group=role_group
    )
    provision_access_request.delay(access_request.pk)
    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert typo in access_request.failure_reason

    # A blind retry, the typo still there: the group exists now, and still it fails.
    with django_capture_on_commit_callbacks(execute=True):
        access_request_retry(access_request_id=access_request.pk, actor=security_admin)
    access_request.refresh_from_db()
    assert access_request.status == Status.FAILED
    assert "lacks a policy of the catalogue" in access_request.failure_reason
    assert role_group.name in access_request.failure_reason

    # Fixed in the catalogue: the retry attaches the policy, then the request is active.
    fixed = _iam().create_policy(
        PolicyName="read-reports",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}',
    )["Policy"]["Arn"]
    type(role_group).objects.filter(pk=role_group.pk).update(
        managed_policy_arns=[fixed], policies_verified_at=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        access_request_retry(access_request_id=access_request.pk, actor=security_admin)
    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE
    attached = _iam().list_attached_group_policies(GroupName=role_group.iam_group_name)
    assert fixed in [p["PolicyArn"] for p in attached["AttachedPolicies"]]


def test_a_group_someone_stripped_of_its_policy_gets_it_back_before_anyone_is_granted_it(
    strict: Any, employee: Any
) -> None:
    policy = _iam().create_policy(
        PolicyName="read-reports",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}',
    )["Policy"]["Arn"]
    role_group = RoleGroupFactory(managed_policy_arns=[policy])
    _iam().create_group(GroupName=role_group.iam_group_name)  # exists, without the policy
    access_request = approved_request(
        employee, access_type=AccessType.CONSOLE, role_group=role_group
    )
    provision_access_request.delay(access_request.pk)
    access_request.refresh_from_db()
    assert access_request.status == Status.ACTIVE
    attached = _iam().list_attached_group_policies(GroupName=role_group.iam_group_name)
    assert policy in [p["PolicyArn"] for p in attached["AttachedPolicies"]]


def test_a_request_that_is_not_approved_is_left_alone(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee)
    AccessRequest.objects.filter(pk=access_request.pk).update(status=Status.CANCELLED)

    assert access_request_provision(request_id=access_request.pk) == "skipped"
    assert strict.calls == []


def test_a_run_that_is_still_alive_keeps_its_claim(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee)
    AccessRequest.objects.filter(pk=access_request.pk).update(status=Status.PROVISIONING)

    assert access_request_provision(request_id=access_request.pk) == "skipped"
    assert strict.calls == []


def test_a_deleted_request_is_skipped(strict: Any) -> None:
    assert access_request_provision(request_id=987654) == "skipped"


def test_the_seal_does_not_open_under_another_link(strict: Any, employee: Any) -> None:
    access_request = approved_request(employee, access_type=AccessType.CONSOLE)
    provision_access_request.delay(access_request.pk)
    (link,) = _links(access_request)

    with pytest.raises(crypto.SealError):
        crypto.unseal(link.sealed_password, link_id=link.pk + 1, field="password")
