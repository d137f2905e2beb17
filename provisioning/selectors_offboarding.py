"""Reads for offboarding: the blast radius (live from AWS, plus the portal's own records), the
offboardings themselves, and who hears about them."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts import roles
from accounts.models import User
from provisioning import aws
from provisioning.models import AccessRequest, CredentialLink, Grant, IamAccount, Offboarding


@dataclass
class AccountRadius:
    """One IAM user of the leaver: the portal's record and what AWS says it holds now."""

    account: IamAccount
    inventory: aws.UserInventory | None = None
    error: str = ""


@dataclass
class BlastRadius:
    person: User
    accounts: list[AccountRadius] = field(default_factory=list)
    open_requests: list[AccessRequest] = field(default_factory=list)
    reports: list[User] = field(default_factory=list)
    reports_pending_requests: int = 0
    unused_links: int = 0
    running: Offboarding | None = None


def offboarding_targets(person: User) -> list[IamAccount]:
    """The IAM users an offboarding tears down: the person's, except those already deleted
    (their names may since belong to someone else's user, created outside the portal)."""
    return list(
        IamAccount.objects.filter(owner=person)
        .exclude(status=IamAccount.Status.DELETED)
        .order_by("user_name")
    )


def offboarding_blast_radius(*, person: User) -> BlastRadius:
    """Everything offboarding this person will end, read live from AWS for each IAM user."""
    radius = BlastRadius(person=person)
    accounts = (
        IamAccount.objects.filter(owner=person)
        .exclude(status=IamAccount.Status.DELETED)
        .prefetch_related(
            Prefetch(
                "grants",
                queryset=Grant.objects.filter(revoked_at__isnull=True).select_related("role_group"),
                to_attr="live_grants",
            )
        )
        .order_by("user_name")
    )
    for account in accounts:
        try:
            radius.accounts.append(AccountRadius(account, aws.read_user(account.user_name)))
        except aws.AwsError as error:
            # HR can still offboard: the portal part does not wait for AWS, and the worker
            # retries. The page says what could not be read.
            radius.accounts.append(AccountRadius(account, error=str(error)))
    radius.open_requests = list(
        AccessRequest.objects.filter(requester=person, status__in=AccessRequest.OPEN_STATUSES)
        .select_related("role_group")
        .order_by("submitted_at")
    )
    radius.reports = list(User.objects.filter(manager=person, is_active=True).order_by("email"))
    radius.reports_pending_requests = AccessRequest.objects.filter(
        requester__manager=person,
        requester__is_active=True,
        status__in=AccessRequest.UNDECIDED_STATUSES,
    ).count()
    radius.unused_links = CredentialLink.objects.filter(
        Q(recipient=person) | Q(iam_account__owner=person),
        revealed_at__isnull=True,
        revoked_at__isnull=True,
    ).count()
    radius.running = offboarding_running_for(person)
    return radius


def offboarding_running_for(person: User) -> Offboarding | None:
    return (
        Offboarding.objects.filter(
            person=person,
            status__in=(Offboarding.Status.PENDING, Offboarding.Status.IN_PROGRESS),
        )
        .order_by("-started_at")
        .first()
    )


def offboarding_get(pk: int) -> Offboarding:
    return get_object_or_404(
        Offboarding.objects.select_related("person", "person__manager", "started_by"), pk=pk
    )


def _holders(permission: str) -> QuerySet[User]:
    app_label, codename = permission.split(".")
    holds = (
        Q(
            groups__permissions__codename=codename,
            groups__permissions__content_type__app_label=app_label,
        )
        | Q(
            user_permissions__codename=codename,
            user_permissions__content_type__app_label=app_label,
        )
        | Q(is_superuser=True)
    )
    return User.objects.filter(holds, is_active=True).distinct().order_by("email")


def hr_recipients() -> list[str]:
    """Everyone who may offboard people: they get every offboarding's report."""
    return list(_holders(roles.OFFBOARD_PEOPLE).values_list("email", flat=True))


def security_admin_recipients() -> list[str]:
    return list(_holders(roles.OPERATE_PROVISIONING).values_list("email", flat=True))
