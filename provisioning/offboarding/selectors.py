"""Reads for offboarding: the blast radius (live from AWS, plus the portal's own records) and
the offboardings themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from provisioning import aws
from provisioning.lifecycle.selectors import grants_history_prefetches
from provisioning.models import (
    AccessRequest,
    CredentialLink,
    Grant,
    IamAccount,
    Offboarding,
    OffboardingSchedule,
)

# The worker's part: HR (and, for a privileged leaver, a security admin) have confirmed.
RUNNING_STATUSES = (Offboarding.Status.PENDING, Offboarding.Status.IN_PROGRESS)
# Not finished: a new offboarding of the same person is refused meanwhile.
UNFINISHED_STATUSES = (Offboarding.Status.AWAITING_CONFIRMATION, *RUNNING_STATUSES)
# Done, one way or another: the list of past offboardings.
FINISHED_STATUSES = (
    Offboarding.Status.COMPLETED,
    Offboarding.Status.INCOMPLETE,
    Offboarding.Status.DECLINED,
)
OFFBOARDINGS_PER_PAGE = 50

# What the confirm page says when AWS does not answer the preview's one short attempt.
AWS_SILENT = "AWS did not answer; confirming still cuts the portal at once and the worker retries."


@dataclass
class AccountRadius:
    """One IAM user of the leaver: the portal's record and what AWS says it holds now."""

    account: IamAccount
    inventory: aws.UserInventory | None = None
    error: str = ""
    silent: bool = False


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
    """Everything offboarding this person will end, read live from AWS for each IAM user,
    with one short attempt each: HR is waiting, and the worker retries the teardown anyway."""
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
            with aws.quick_calls():
                radius.accounts.append(AccountRadius(account, aws.read_user(account.user_name)))
        except aws.AwsError as error:
            # HR can still offboard: the portal part does not wait for AWS, and the worker
            # retries. The page says what could not be read.
            if error.transient:
                radius.accounts.append(AccountRadius(account, error=AWS_SILENT, silent=True))
            else:
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
        Offboarding.objects.filter(person=person, status__in=UNFINISHED_STATUSES)
        .order_by("-started_at")
        .first()
    )


def offboarding_get(pk: int) -> Offboarding:
    return get_object_or_404(
        Offboarding.objects.select_related("person", "person__manager", "started_by"), pk=pk
    )


def stuck_offboardings(*, now: datetime | None = None) -> QuerySet[Offboarding]:
    """Offboardings still pending or tearing down long after HR confirmed them."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.PROVISIONING_STALE_SECONDS)
    return Offboarding.objects.filter(status__in=RUNNING_STATUSES, started_at__lt=cutoff).order_by(
        "pk"
    )


def access_for_person(person: User) -> list[IamAccount]:
    """The person's IAM accounts, each with its live grants (`live_grants`) and its latest
    ended ones (`past_grants`: how, by whom, when), for the access panel on HR's person page."""
    accounts = IamAccount.objects.filter(owner=person).prefetch_related(
        *grants_history_prefetches()
    )
    return list(accounts.order_by("user_name"))


def latest_offboarding_of(person: User) -> Offboarding | None:
    return (
        Offboarding.objects.filter(person=person)
        .select_related("started_by")
        .order_by("-started_at")
        .first()
    )


def offboardings_finished(*, query: str = "") -> QuerySet[Offboarding]:
    """Finished offboardings, newest first, whose leaver's name or email has every word of
    `query`."""
    offboardings = Offboarding.objects.filter(status__in=FINISHED_STATUSES).select_related(
        "person", "started_by", "confirmed_by"
    )
    for word in query.split():
        offboardings = offboardings.filter(
            Q(person__full_name__icontains=word) | Q(person__email__icontains=word)
        )
    return offboardings.order_by("-finished_at", "-pk")


def offboardings_scheduled() -> list[OffboardingSchedule]:
    """Offboardings waiting for a last working day, the soonest first."""
    schedules = OffboardingSchedule.objects.filter(status=OffboardingSchedule.Status.SCHEDULED)
    return list(schedules.select_related("person", "scheduled_by").order_by("last_working_day"))


def offboarding_scheduled_for(person: User) -> OffboardingSchedule | None:
    return (
        OffboardingSchedule.objects.filter(
            person=person, status=OffboardingSchedule.Status.SCHEDULED
        )
        .select_related("scheduled_by")
        .first()
    )
