"""Re-issuing credentials (security admins): new credentials and a new link, the old dead."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from provisioning import aws
from provisioning.credentials.links import (
    credential_link_issue,
    credential_link_revoke,
    credential_link_seal_access_key,
    credential_link_seal_password,
    link_target,
)
from provisioning.credentials.notifications import credential_link_sent
from provisioning.credentials.passwords import PasswordPolicy, password_generate
from provisioning.errors import CredentialsNotAllowed, PortalError
from provisioning.models import AccessKeyRecord, AccessRequest, CredentialLink, IamAccount

logger = logging.getLogger(__name__)


def _rotate_access_keys(link: CredentialLink, account: IamAccount, actor: User) -> None:
    """A new access key sealed into `link`, then the portal's old keys deleted. Keys of the
    user the portal never recorded go first, which also makes room under AWS's two-key cap."""
    user_name = account.user_name
    old = list(account.access_keys.filter(deleted_at__isnull=True).order_by("created_at"))
    recorded = {record.access_key_id for record in old}
    with aws.recording() as calls:
        for key_id in aws.access_key_ids(user_name):
            if key_id not in recorded:
                aws.delete_access_key(user_name, key_id)
        key_id, secret = aws.create_access_key(user_name)
    with transaction.atomic():
        AccessKeyRecord.objects.create(iam_account=account, access_key_id=key_id)
        credential_link_seal_access_key(link=link, access_key_id=key_id, secret_access_key=secret)
        audit.record(
            "iam.access_key.created",
            actor=actor,
            target=link_target(link),
            subject=link.recipient_id,
            data={
                "iam_user": user_name,
                "access_key_id": key_id,
                "reason": "credentials re-issued",
                "aws_request_ids": calls.request_ids,
            },
        )
    for record in old:
        with aws.recording() as calls:
            aws.delete_access_key(user_name, record.access_key_id)
        with transaction.atomic():
            AccessKeyRecord.objects.filter(pk=record.pk).update(deleted_at=timezone.now())
            audit.record(
                "iam.access_key.deleted",
                actor=actor,
                target=link_target(link),
                subject=link.recipient_id,
                data={
                    "iam_user": user_name,
                    "access_key_id": record.access_key_id,
                    "reason": "replaced when credentials were re-issued",
                    "aws_request_ids": calls.request_ids,
                },
            )


def credential_link_reissue(
    *, iam_account_id: int, actor: User, ip: str | None = None
) -> CredentialLink:
    """New credentials and a new link for an IAM user, the old link dead.

    1. Guard: a security admin; an active IAM user of an active person.
    2. Revoke every link of the user not yet revealed, and wipe it.
    3. Console: a new password, sealed and committed before UpdateLoginProfile sets it
       (reset required at first sign-in).
    4. Programmatic: a new access key sealed with its record, then the old keys deleted.
    5. Issue the link and email it to the owner after the commit."""
    if not actor.has_perm(roles.OPERATE_PROVISIONING):
        raise CredentialsNotAllowed("Only security admins re-issue credentials.")
    account = (
        IamAccount.objects.select_related("owner")
        .filter(pk=iam_account_id, status=IamAccount.Status.ACTIVE)
        .first()
    )
    if account is None:
        raise PortalError("There is no active IAM user to re-issue credentials for.")
    if not account.owner.is_active:
        raise PortalError(f"{account.owner} has left: their credentials are not re-issued.")
    for old in CredentialLink.objects.filter(
        iam_account=account, revealed_at__isnull=True, revoked_at__isnull=True
    ):
        credential_link_revoke(link=old, actor=actor, reason="replaced by a re-issued link")
    try:
        with aws.recording() as calls:
            console = aws.login_profile_exists(account.user_name)
        has_keys = account.access_keys.filter(deleted_at__isnull=True).exists()
        if not console and not has_keys:
            raise PortalError(
                f"IAM user {account.user_name} has neither a console password nor an access "
                "key from the portal: there is nothing to re-issue."
            )
        link = CredentialLink.objects.create(
            recipient=account.owner, iam_account=account, issued_by=actor
        )
        if console:
            with aws.recording() as policy_calls:
                policy = PasswordPolicy.from_aws(aws.account_password_policy())
            password = password_generate(policy)
            # Sealed and committed before AWS hears of it: a crash in between leaves a password
            # we can still hand over, never one set in AWS that nobody knows.
            credential_link_seal_password(link=link, password=password)
            with aws.recording() as profile_calls:
                aws.update_login_profile(account.user_name, password)
            audit.record(
                "iam.login_profile.updated",
                actor=actor,
                target=link_target(link),
                subject=link.recipient_id,
                data={
                    "iam_user": account.user_name,
                    "password_reset_required": True,
                    "reason": "credentials re-issued",
                    "aws_request_ids": calls.request_ids
                    + policy_calls.request_ids
                    + profile_calls.request_ids,
                },
            )
        if has_keys:
            _rotate_access_keys(link, account, actor)
    except aws.AwsError as error:
        raise PortalError(f"AWS refused while re-issuing credentials: {error}") from None
    with transaction.atomic():
        token = credential_link_issue(link=link, actor=actor)
        AccessRequest.objects.filter(
            iam_account=account,
            status=AccessRequest.Status.ACTIVE,
            credential_email_unconfirmed=True,
        ).update(credential_email_unconfirmed=False)
        audit.record(
            "credential.reissued",
            actor=actor,
            target=link_target(link),
            subject=link.recipient_id,
            data={"link": link.pk, "iam_user": account.user_name, "recipient": account.owner.email},
            ip=ip,
        )
    try:
        credential_link_sent(link=link, token=token, reissued=True)
    except OSError:
        logger.exception("Could not email the re-issued credential link #%s", link.pk)
        raise PortalError(
            f"New credentials were made for {account.user_name}, but the email with the link "
            "could not be sent. Re-issue again once email works."
        ) from None
    return link
