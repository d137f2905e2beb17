"""A security admin re-issues credentials: a new password (reset required) and access key,
a new link emailed, the old link dead."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from provisioning import aws, errors
from provisioning.credentials import links, reissue
from provisioning.errors import PortalError
from provisioning.models import AccessKeyRecord, AccessRequest, CredentialLink, IamAccount
from provisioning.tasks import provision_access_request
from tests.provisioning.strict_onboarding import approved_request

pytestmark = pytest.mark.django_db

LINK_PATH = "/access/credentials/"


@pytest.fixture
def provisioned(strict: Any, employee: Any) -> IamAccount:
    access_request = approved_request(employee, access_type=AccessRequest.AccessType.BOTH)
    provision_access_request.delay(access_request.pk)
    mail.outbox.clear()
    strict.calls.clear()
    return IamAccount.objects.get(owner=employee)


def _token(message: Any) -> str:
    return message.body.split(LINK_PATH, 1)[1].split("/", 1)[0]


def test_reissue_sets_a_new_password_with_reset_required_and_emails_a_new_link(
    strict: Any, provisioned: IamAccount, security_admin: Any
) -> None:
    old_link = CredentialLink.objects.get(iam_account=provisioned)

    new_link = reissue.credential_link_reissue(iam_account_id=provisioned.pk, actor=security_admin)

    (update,) = strict.sent("UpdateLoginProfile")
    assert update["PasswordResetRequired"] in (True, "true")
    assert update["Password"]
    assert strict.sent("CreateLoginProfile") == []
    old_link.refresh_from_db()
    assert old_link.revoked_at is not None and old_link.sealed_password is None
    (message,) = mail.outbox
    assert message.to == [provisioned.owner.email]
    assert "re-issued" in message.body
    assert links.token_hash(_token(message)) == new_link.token_hash
    assert update["Password"] not in message.body


def test_reissue_replaces_the_portals_access_key(
    strict: Any, provisioned: IamAccount, security_admin: Any
) -> None:
    (old_key,) = AccessKeyRecord.objects.filter(iam_account=provisioned)

    link = reissue.credential_link_reissue(iam_account_id=provisioned.pk, actor=security_admin)

    keys = aws.client().list_access_keys(UserName=provisioned.user_name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [link.access_key_id]
    assert link.access_key_id != old_key.access_key_id
    old_key.refresh_from_db()
    assert old_key.deleted_at is not None


def test_the_old_link_says_it_was_replaced_and_the_new_one_reveals(
    strict: Any, provisioned: IamAccount, security_admin: Any
) -> None:
    link = CredentialLink.objects.get(iam_account=provisioned)
    # Issue the first link afresh so the test knows its token.
    CredentialLink.objects.filter(pk=link.pk).update(token_hash=None, issued_at=None)
    link.refresh_from_db()
    old_token = links.credential_link_issue(link=link)
    reissue.credential_link_reissue(iam_account_id=provisioned.pk, actor=security_admin)
    (message,) = mail.outbox
    owner = Client()
    owner.force_login(provisioned.owner)

    old = owner.post(reverse("credential_link", args=[old_token]))
    new = owner.post(reverse("credential_link", args=[_token(message)]))

    assert old.status_code == 410 and "replaced" in old.content.decode()
    assert new.status_code == 200
    (update,) = strict.sent("UpdateLoginProfile")
    assert update["Password"] in html.unescape(new.content.decode())


def test_only_security_admins_reissue(provisioned: IamAccount, manager: Any) -> None:
    with pytest.raises(errors.CredentialsNotAllowed):
        reissue.credential_link_reissue(iam_account_id=provisioned.pk, actor=manager)
    assert mail.outbox == []


def test_there_is_nothing_to_reissue_without_console_or_key(
    strict: Any, employee: Any, security_admin: Any
) -> None:
    access_request = approved_request(employee, access_type=AccessRequest.AccessType.CONSOLE)
    provision_access_request.delay(access_request.pk)
    account = IamAccount.objects.get(owner=employee)
    aws.client().delete_login_profile(UserName=account.user_name)

    with pytest.raises(PortalError, match="nothing to re-issue"):
        reissue.credential_link_reissue(iam_account_id=account.pk, actor=security_admin)
