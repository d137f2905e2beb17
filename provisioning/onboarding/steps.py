"""The steps of a provisioning run, each recorded in the transaction that records its outcome
(see the package docstring for what each does and why in this order)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from provisioning import aws
from provisioning.credentials import links
from provisioning.credentials import notifications as credential_notifications
from provisioning.credentials.passwords import PasswordPolicy, password_generate
from provisioning.errors import PortalError
from provisioning.lifecycle import rules
from provisioning.models import (
    AccessKeyRecord,
    AccessRequest,
    CredentialLink,
    Grant,
    IamAccount,
)
from provisioning.onboarding import notifications
from provisioning.onboarding.claims import (
    ClaimLost,
    ProvisioningDeferred,
    Run,
    audit_step,
    fenced,
    record_step,
)
from provisioning.onboarding.group_policies import group_policies_verify

AccessType = AccessRequest.AccessType
Status = AccessRequest.Status
CONSOLE_TYPES = (AccessType.CONSOLE, AccessType.BOTH)
KEY_TYPES = (AccessType.PROGRAMMATIC, AccessType.BOTH)


def step_iam_user(run: Run) -> IamAccount:
    access_request = run.access_request
    if "iam_user" in run.steps and access_request.iam_account is not None:
        return access_request.iam_account
    requester = access_request.requester
    user_name = access_request.iam_user_name
    # In one read: an account the person holds already, and whose the wanted name is.
    held = Q(owner=requester, status=IamAccount.Status.ACTIVE)
    accounts = list(
        IamAccount.objects.filter(held | Q(user_name=user_name) if user_name else held).order_by(
            "created_at"
        )
    )
    existing = next(
        (
            a
            for a in accounts
            if a.owner_id == requester.pk and a.status == IamAccount.Status.ACTIVE
        ),
        None,
    )
    if existing is not None:
        with transaction.atomic():
            record_step(access_request, "iam_user", iam_account=existing)
            audit_step(access_request, "iam.user.reused", None, iam_user=existing.user_name)
        return existing
    if not user_name:
        raise PortalError("The request has no IAM user name; it was submitted without one.")
    with aws.recording() as calls:
        arn, created = aws.ensure_user(
            user_name, owner_email=requester.email, request_id=access_request.pk
        )
    known = next((a for a in accounts if a.user_name == user_name), None)
    if known is not None and known.owner_id != requester.pk:
        raise PortalError(f"The IAM user name {user_name} belongs to another person in the portal.")
    account = known or IamAccount(owner=requester, user_name=user_name, arn=arn)

    def write() -> None:
        if account.pk is None:
            account.save()
        else:
            account.arn = arn
            account.status = IamAccount.Status.ACTIVE
            # Fenced on the owner: the name cannot have passed to someone else meanwhile.
            if (
                IamAccount.objects.filter(pk=account.pk, owner=requester).update(
                    arn=arn, status=account.status
                )
                != 1
            ):
                raise PortalError(
                    f"The IAM user name {user_name} belongs to another person in the portal."
                )
        record_step(access_request, "iam_user", iam_account=account)
        audit_step(
            access_request,
            "iam.user.created" if created else "iam.user.adopted",
            calls,
            iam_user=user_name,
            arn=arn,
            tags={aws.OWNER_TAG: requester.email, aws.REQUEST_TAG: access_request.pk},
        )

    run.created_user = created
    run.record(write)
    return account


def step_group(run: Run, account: IamAccount) -> None:
    access_request = run.access_request
    role_group = access_request.role_group
    if role_group is None or "group" in run.steps:
        return
    if (
        not run.created_user
        and Grant.objects.filter(
            iam_account=account, role_group=role_group, revoked_at__isnull=True
        )
        .exclude(end="")
        .exists()
    ):
        # The previous grant of this role-group is still being removed from IAM: adding the
        # membership now would be undone by that removal.
        raise ProvisioningDeferred(f"the previous {role_group.name} access is still being removed")
    with aws.recording() as calls:
        aws.ensure_group_membership(
            account.user_name,
            role_group.iam_group_name,
            policy_arns=list(role_group.managed_policy_arns),
        )
        attached = group_policies_verify(role_group, account)

    def write() -> None:
        started_at = timezone.now()
        ends_on, ends_at = rules.grant_end(access_request, start=started_at)
        # A live grant of this role-group to the account (from an earlier request) is kept:
        # the partial unique constraint turns the insert into a no-op, in one statement.
        Grant.objects.bulk_create(
            [
                Grant(
                    iam_account=account,
                    role_group=role_group,
                    request=access_request,
                    ends_on=ends_on,
                    ends_at=ends_at,
                )
            ],
            ignore_conflicts=True,
        )
        record_step(access_request, "group")
        audit_step(
            access_request,
            "iam.group.added",
            calls,
            iam_user=account.user_name,
            iam_group=role_group.iam_group_name,
            role_group=role_group.name,
            policies_attached=attached,
            started_at=started_at,
            ends_on=ends_on,
            ends_at=ends_at,
        )

    run.record(write)


def _pending_link(run: Run, account: IamAccount) -> CredentialLink:
    """The link collecting this request's new credentials, kept for the rest of the run."""
    if run.link is None and run.created_user:
        # A user this run created has no links yet: no need to look for one.
        run.link = CredentialLink.objects.create(
            recipient_id=account.owner_id, iam_account=account, request=run.access_request
        )
    elif run.link is None:
        run.link = links.credential_link_pending(
            iam_account=account, access_request=run.access_request
        )
        # Already in memory: spare the email its queries.
        run.link.iam_account = account
        run.link.recipient = run.access_request.requester
        run.link.request = run.access_request
    return run.link


def step_console(run: Run, account: IamAccount) -> None:
    access_request = run.access_request
    if "console" in run.steps:
        return
    user_name = account.user_name
    wanted = access_request.access_type in CONSOLE_TYPES
    if not wanted:
        if run.created_user:
            return
        with aws.recording() as calls:
            removed = aws.delete_login_profile(user_name)
        with transaction.atomic():
            record_step(access_request, "console")
            audit_step(
                access_request,
                "iam.login_profile.deleted" if removed else "iam.login_profile.absent",
                calls,
                iam_user=user_name,
            )
        return
    # A run that died after sealing a password left it here: use that one, whether or not it
    # reached AWS, so AWS and the link agree.
    link = (
        None
        if run.created_user
        else CredentialLink.objects.filter(
            request=access_request,
            iam_account=account,
            issued_at__isnull=True,
            revoked_at__isnull=True,
            sealed_password__isnull=False,
        )
        .order_by("pk")
        .first()
    )
    password = links.credential_link_sealed_password(link=link) if link else None
    with aws.recording() as calls:
        if password is None and not run.created_user and aws.login_profile_exists(user_name):
            # The person already signs in to the console: their password stays theirs.
            with transaction.atomic():
                record_step(access_request, "console")
                audit_step(access_request, "iam.login_profile.kept", calls, iam_user=user_name)
            return
        if link is not None and password is not None:
            run.link = link
        else:
            link = _pending_link(run, account)
            policy = PasswordPolicy.from_aws(aws.account_password_policy())
            password = password_generate(policy)
            # Committed before AWS hears of it (we are outside any transaction here).
            links.credential_link_seal_password(link=link, password=password)
        try:
            created = aws.ensure_login_profile(user_name, password)
        except aws.AwsError as error:
            if error.code == "PasswordPolicyViolation":
                # AWS refused this password (the policy changed under us): it is set nowhere,
                # so forget it and let the retry generate one to the new policy.
                CredentialLink.objects.filter(pk=link.pk).update(sealed_password=None)
                raise aws.AwsError(
                    error.code, error.message, error.operation, True, error.request_id
                ) from None
            raise
    sealed_in = link.pk

    def write() -> None:
        record_step(access_request, "console")
        audit_step(
            access_request,
            "iam.login_profile.created" if created else "iam.login_profile.updated",
            calls,
            iam_user=user_name,
            password_reset_required=True,
            link=sealed_in,
        )

    run.record(write)


def step_access_key(run: Run, account: IamAccount) -> None:
    access_request = run.access_request
    if "access_key" in run.steps:
        return
    user_name = account.user_name
    wanted = access_request.access_type in KEY_TYPES
    if not wanted and run.created_user:
        return
    live: list[str] = []
    if not run.created_user:
        recorded = set(
            AccessKeyRecord.objects.filter(
                iam_account=account, deleted_at__isnull=True
            ).values_list("access_key_id", flat=True)
        )
        with aws.recording() as calls:
            in_aws = aws.access_key_ids(user_name)
            for key_id in in_aws:
                if wanted and key_id in recorded:
                    live.append(key_id)
                    continue
                aws.delete_access_key(user_name, key_id)
        with transaction.atomic():
            now = timezone.now()
            gone = [key_id for key_id in recorded if key_id not in live]
            AccessKeyRecord.objects.filter(access_key_id__in=gone).update(deleted_at=now)
            for key_id in in_aws:
                if key_id not in live:
                    audit_step(
                        access_request,
                        "iam.access_key.deleted",
                        calls,
                        iam_user=user_name,
                        access_key_id=key_id,
                        reason="access key no longer wanted"
                        if not wanted
                        else "not recorded by the portal (left by an interrupted run)",
                    )
            if not wanted or live:
                record_step(access_request, "access_key")
                if live:
                    audit_step(
                        access_request,
                        "iam.access_key.kept",
                        None,
                        iam_user=user_name,
                        access_key_id=live[0],
                    )
                return
    with aws.recording() as calls:
        key_id, secret = aws.create_access_key(user_name)

    # The secret exists only in this process now: record the key and seal the secret together.
    def write() -> None:
        AccessKeyRecord.objects.create(
            iam_account=account, access_key_id=key_id, request=access_request
        )
        links.credential_link_seal_access_key(
            link=_pending_link(run, account), access_key_id=key_id, secret_access_key=secret
        )
        record_step(access_request, "access_key")
        audit_step(
            access_request,
            "iam.access_key.created",
            calls,
            iam_user=user_name,
            access_key_id=key_id,
        )

    run.record(write)


def step_notify_and_finish(run: Run, account: IamAccount) -> None:
    access_request = run.access_request
    emailed = False
    if "notify" not in run.steps:
        # This run's link, or (resuming) the one an earlier run filled.
        link = run.link or (
            CredentialLink.objects.filter(
                request=access_request, issued_at__isnull=True, revoked_at__isnull=True
            )
            .filter(Q(sealed_password__isnull=False) | Q(sealed_secret_key__isnull=False))
            .select_related("recipient", "iam_account", "request__role_group")
            .first()
        )
        token = ""
        with transaction.atomic():
            if link is not None:
                token = links.credential_link_issue(link=link)
            record_step(access_request, "notify")
        try:
            if link is not None:
                credential_notifications.credential_link_sent(link=link, token=token)
            else:
                notifications.provisioning_active(access_request)
        except OSError as error:
            # Certainly not sent: nobody holds the token, so undo the step and retry later.
            with transaction.atomic():
                if link is not None:
                    links.credential_link_withdraw(link=link)
                steps = [step for step in run.steps if step != "notify"]
                if fenced(access_request).update(steps_done=steps) != 1:
                    raise ClaimLost from None
                access_request.steps_done = steps
            raise ProvisioningDeferred(f"the email could not be sent ({error})") from None
        emailed = True
    with transaction.atomic():
        now = timezone.now()
        record_step(
            access_request,
            "active",
            status=Status.ACTIVE,
            provisioned_at=now,
            failure_reason="",
            credential_email_unconfirmed=not emailed,
        )
        audit_step(
            access_request,
            "request.provisioned",
            None,
            iam_user=account.user_name,
            role_group=access_request.role_group.name if access_request.role_group else None,
            access_type=access_request.access_type,
            email="sent" if emailed else "unconfirmed",
        )
