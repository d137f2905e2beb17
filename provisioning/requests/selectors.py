"""Reads about access requests (asking, My access, the approvals dashboard), each with the
joins that keep a page at a constant number of queries however many rows it shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    FilteredRelation,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils import timezone

from accounts import roles
from accounts.models import User
from accounts.selectors import org_chart_cutoff
from provisioning.guardrails.models import KeyRotation
from provisioning.lifecycle.selectors import grants_history_prefetches
from provisioning.models import (
    AccessRequest,
    Approval,
    CredentialLink,
    Grant,
    IamAccount,
)

IN_FLIGHT_STATUSES = (AccessRequest.Status.APPROVED, AccessRequest.Status.PROVISIONING)
Route = AccessRequest.Route


@dataclass(frozen=True)
class FirstStage:
    """Who decides a new request's first stage: `approver`, or the security admins (None)."""

    approver: User | None
    route: str


def first_stage_route(requester: User) -> FirstStage:
    """The requester's active manager decides the first stage, unless:

    - there is none (nobody set, or the manager has left): the security admins decide, so a
      request never waits on an approver who does not exist;
    - the manager is who placed the requester in the org chart within ORG_CHART_COOLDOWN_DAYS
      (created them, or made themselves their manager): then a second person, a security
      admin, decides, so no one both makes an identity and gives it access."""
    manager = requester.manager
    if manager is None or not manager.is_active or manager.pk == requester.pk:
        return FirstStage(None, Route.NO_MANAGER)
    if requester.recently_placed_by(manager):
        return FirstStage(None, Route.PLACED_BY_MANAGER)
    return FirstStage(manager, Route.MANAGER)


def first_stage_approver(requester: User) -> User | None:
    return first_stage_route(requester).approver


def may_decide_for(person: User, requester: User) -> bool:
    """Not the requester, nor who placed the requester in the org chart recently."""
    return person.pk != requester.pk and not requester.recently_placed_by(person)


def is_teammate(person: User, colleague: User) -> bool:
    """Same manager, or same department: whose access a person may see and copy."""
    same_manager = person.manager_id is not None and person.manager_id == colleague.manager_id
    same_department = bool(person.department) and person.department == colleague.department
    return same_manager or same_department


def live_iam_account_of(person: User) -> IamAccount | None:
    return (
        IamAccount.objects.filter(owner=person, status=IamAccount.Status.ACTIVE)
        .order_by("created_at")
        .first()
    )


def current_access_type(person: User) -> str:
    """The access type the person's IAM user has now: that of their latest provisioned request,
    or "" when nothing has been provisioned for them."""
    latest = (
        AccessRequest.objects.filter(requester=person, status=AccessRequest.Status.ACTIVE)
        .order_by("-provisioned_at", "-pk")
        .values_list("access_type", flat=True)
        .first()
    )
    return latest or ""


def live_grants_of(person: User) -> QuerySet[Grant]:
    return Grant.objects.filter(
        iam_account__owner=person,
        iam_account__status=IamAccount.Status.ACTIVE,
        revoked_at__isnull=True,
    ).select_related("role_group", "iam_account")


def open_requests_of(person: User) -> QuerySet[AccessRequest]:
    return AccessRequest.objects.filter(
        requester=person, status__in=AccessRequest.OPEN_STATUSES
    ).select_related("role_group")


# --- The approvals dashboard ----------------------------------------------------------------


def _with_timeline(queryset: QuerySet[AccessRequest]) -> QuerySet[AccessRequest]:
    """What a request's timeline shows: its role-group (joined), who it copies, who decides
    its first stage and its decisions with their approvers (prefetched: seven tables joined
    took Postgres longer to plan, 7 ms, than the small queries take to run)."""
    return queryset.select_related("role_group").prefetch_related(
        "copied_from",
        "first_approver",
        Prefetch("approvals", queryset=Approval.objects.select_related("approver")),
    )


def _with_decisions(queryset: QuerySet[AccessRequest]) -> QuerySet[AccessRequest]:
    # For an approver: also who asks (joined) and the grant an extension extends.
    return _with_timeline(queryset.select_related("requester")).prefetch_related("grant")


@dataclass(frozen=True)
class Holding:
    """One live grant of a requester, as the approvals dashboard's "Holds now" shows it."""

    role_group: str
    ends_on: date | None


def attach_holdings(access_requests: Sequence[AccessRequest]) -> None:
    """Set `holds_now` on each request: its requester's live grants (role-group names A to Z,
    with their end), or None when the requester has no live IAM user yet. One query of plain
    values: at sixty requesters holding several grants each, building rows was most of the
    page's time."""
    requester_ids = {access_request.requester_id for access_request in access_requests}
    accounts = IamAccount.objects.filter(
        owner_id__in=requester_ids, status=IamAccount.Status.ACTIVE
    ).annotate(live=FilteredRelation("grants", condition=Q(grants__revoked_at__isnull=True)))
    held: dict[int, list[Holding]] = {}
    for owner_id, name, ends_on in accounts.values_list(
        "owner_id", "live__role_group__name", "live__ends_on"
    ).order_by("owner_id", "live__role_group__name"):
        holdings = held.setdefault(owner_id, [])
        if name is not None:
            holdings.append(Holding(name, ends_on))
    for access_request in access_requests:
        holds_now = held.get(access_request.requester_id)
        access_request.holds_now = holds_now  # type: ignore[attr-defined]  # a page's annotation


def _awaiting_decision_by(user: User) -> QuerySet[AccessRequest]:
    Status = AccessRequest.Status
    decidable = Q(status=Status.PENDING, first_approver=user, first_approver__is_active=True)
    if roles.is_security_admin(user):
        decidable |= Q(status=Status.AWAITING_SECOND_APPROVAL) & ~Q(
            approvals__approver=user, approvals__stage=Approval.Stage.MANAGER
        )
        decidable |= Q(status=Status.PENDING) & (
            Q(first_approver__isnull=True) | Q(first_approver__is_active=False)
        )
    return (
        AccessRequest.objects.filter(decidable)
        .exclude(requester=user)
        .exclude(requester__placed_by=user, requester__placed_at__gte=org_chart_cutoff())
    )


def approvals_waiting_count(user: User) -> int:
    """How many requests `user` may decide now (the nav's and the home page's count)."""
    return _awaiting_decision_by(user).count()


def requests_awaiting_decision_by(user: User) -> QuerySet[AccessRequest]:
    """What `user` may decide now, oldest first: the first stage of requests routed to them;
    and for a security admin, second approvals they did not give the first approval for, plus
    the first stage of requests routed to the security admins (or whose approver has left
    since). Never their own requests, nor those of anyone they placed in the org chart
    recently. The dashboard adds what each requester holds (`attach_holdings`)."""
    return _with_decisions(_awaiting_decision_by(user).order_by("submitted_at", "pk"))


def request_for_decision(pk: int) -> AccessRequest | None:
    return _with_decisions(
        AccessRequest.objects.select_related("requester__manager").filter(pk=pk)
    ).first()


def decisions_by(user: User) -> QuerySet[Approval]:
    return (
        Approval.objects.filter(approver=user)
        .select_related("request__requester", "request__role_group")
        .order_by("-created_at", "-pk")
    )


# --- My access ------------------------------------------------------------------------------


def requests_of(person: User, *, now: datetime | None = None) -> QuerySet[AccessRequest]:
    """The person's requests, newest first, each marked `is_slow` when it was approved over
    PROVISIONING_SLOW_SECONDS ago and is not provisioned yet."""
    slow_since = (now or timezone.now()) - timedelta(seconds=settings.PROVISIONING_SLOW_SECONDS)
    # The person's own page: who asks is the person, and no row shows an extension's grant.
    return (
        _with_timeline(AccessRequest.objects.filter(requester=person))
        .annotate(
            is_slow=ExpressionWrapper(
                Q(status__in=IN_FLIGHT_STATUSES, decided_at__lt=slow_since),
                output_field=BooleanField(),
            )
        )
        .order_by("-submitted_at", "-pk")
    )


# My access refreshes itself this often while something may change without the person:
# quickly while a worker provisions, slowly while approvers decide or a link waits.
WATCH_IN_FLIGHT_SECONDS = 2
WATCH_WAITING_SECONDS = 10


def _watch_seconds(*, in_flight: bool, undecided: bool, link: bool, rotation: bool) -> int:
    if in_flight:
        return WATCH_IN_FLIGHT_SECONDS
    return WATCH_WAITING_SECONDS if undecided or link or rotation else 0


def my_access_watch_seconds(person: User, *, now: datetime | None = None) -> int:
    """How soon My access should look again; 0 when nothing can change by itself: no request
    in flight or undecided, no credential link waiting, no key rotating on an IAM user the
    page shows (one not deleted)."""
    mine = AccessRequest.objects.filter(requester=person)
    in_flight, undecided, link, rotation = (
        User.objects.filter(pk=person.pk)
        .annotate(  # one query: each look is an EXISTS
            in_flight=Exists(mine.filter(status__in=IN_FLIGHT_STATUSES)),
            undecided=Exists(mine.filter(status__in=AccessRequest.UNDECIDED_STATUSES)),
            link=Exists(pending_credential_links_of(person, now=now)),
            rotation=Exists(
                KeyRotation.objects.filter(
                    iam_account__owner=person, status__in=KeyRotation.OPEN_STATUSES
                ).exclude(iam_account__status=IamAccount.Status.DELETED)
            ),
        )
        .values_list("in_flight", "undecided", "link", "rotation")
        .get()
    )
    return _watch_seconds(in_flight=in_flight, undecided=undecided, link=link, rotation=rotation)


def my_access_watch_seconds_of_shown(
    every_request: Sequence[AccessRequest],
    links: Sequence[CredentialLink],
    accounts: Sequence[IamAccount],
) -> int:
    """`my_access_watch_seconds` from what My access has read already, when its one page
    holds every request of the person: `links` from `pending_credential_links_of` and
    `accounts` from `iam_accounts_of` with `with_credentials` (their `open_rotations`)."""
    rotating = [a.open_rotations for a in accounts]  # type: ignore[attr-defined]  # a prefetch
    return _watch_seconds(
        in_flight=any(r.status in IN_FLIGHT_STATUSES for r in every_request),
        undecided=any(r.status in AccessRequest.UNDECIDED_STATUSES for r in every_request),
        link=bool(links),
        rotation=any(rotating),
    )


def iam_accounts_of(person: User) -> QuerySet[IamAccount]:
    """The person's IAM users, each with its `live_grants` and latest `past_grants`."""
    return (
        IamAccount.objects.filter(owner=person)
        .exclude(status=IamAccount.Status.DELETED)
        .prefetch_related(*grants_history_prefetches())
    )


def pending_credential_links_of(
    person: User, *, now: datetime | None = None
) -> QuerySet[CredentialLink]:
    """Links sent and not yet opened, still valid: the person should check their email."""
    return (
        CredentialLink.objects.filter(
            recipient=person,
            revealed_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now or timezone.now(),
        )
        .select_related("iam_account", "request__role_group")
        .order_by("expires_at")
    )
