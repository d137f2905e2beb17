"""Reads about grants over time and access reviews: who may end or review what, what is due,
and the pages' lists, each with the joins that keep a page at a constant number of queries."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts import roles
from accounts.models import User
from provisioning.lifecycle import rules
from provisioning.models import (
    AccessRequest,
    AccessReview,
    Grant,
    IamAccount,
    ReviewItem,
    RoleGroup,
)

PAST_GRANTS_SHOWN = 25


# --- Who may act ----------------------------------------------------------------------------


def may_revoke(actor: User, grant: Grant) -> bool:
    """The holder's manager or a security admin; never the holder (they give it up instead)."""
    holder = grant.iam_account.owner
    if actor.pk == holder.pk:
        return False
    return roles.is_security_admin(actor) or holder.manager_id == actor.pk


def may_review(actor: User, item: ReviewItem) -> bool:
    """The item's reviewer, or (for items routed to them) any security admin; never the
    holder of the grant under review."""
    if actor.pk == item.holder_id:
        return False
    if item.reviewer_id is not None:
        return item.reviewer_id == actor.pk
    return roles.is_security_admin(actor)


# --- Grants ---------------------------------------------------------------------------------


def live_grants() -> QuerySet[Grant]:
    return Grant.objects.filter(revoked_at__isnull=True)


def active_grants() -> QuerySet[Grant]:
    """Live and not ending: what can still be extended, revoked or reviewed."""
    return live_grants().filter(end="")


def grant_for_action(pk: int) -> Grant | None:
    return (
        Grant.objects.select_related(
            "iam_account__owner__manager", "role_group", "ended_by", "request"
        )
        .filter(pk=pk)
        .first()
    )


def start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def grants_due(*, now: datetime | None = None, as_of: date | None = None) -> QuerySet[Grant]:
    """Grants past their end: an end date before today (or `as_of`), or temporary access
    whose exact end has come (by the start of `as_of`, when given)."""
    now = now or timezone.now()
    today = as_of or timezone.localdate(now)
    moment = start_of_day(as_of) if as_of else now
    return (
        active_grants()
        .filter(Q(ends_on__lt=today) | Q(ends_at__lte=moment))
        .select_related("iam_account__owner", "role_group")
        .order_by("ends_on", "pk")
    )


def grants_ending_stale(*, cutoff: datetime) -> QuerySet[Grant]:
    """Grants whose removal from IAM was decided but has not moved since `cutoff`."""
    return live_grants().exclude(end="").filter(updated_at__lt=cutoff).order_by("pk")


def grants_to_warn(*, today: date, within_days: int, after_days: int = -1) -> QuerySet[Grant]:
    """Grants to a date ending in (after_days, within_days] days from today."""
    return (
        active_grants()
        .filter(
            ends_at__isnull=True,
            ends_on__gt=today + timedelta(days=after_days),
            ends_on__lte=today + timedelta(days=within_days),
            iam_account__status=IamAccount.Status.ACTIVE,
        )
        .select_related("iam_account__owner", "role_group")
        .order_by("pk")
    )


def _open_extensions() -> Prefetch:
    return Prefetch(
        "extension_requests",
        queryset=AccessRequest.objects.filter(status__in=AccessRequest.OPEN_STATUSES),
        to_attr="open_extensions",
    )


def grants_history_prefetches() -> list[Prefetch]:
    """For a person's IAM accounts: `live_grants` (with open extensions) and the latest
    `past_grants` (how each ended, by whom), sliced in the database."""
    live = (
        Grant.objects.filter(revoked_at__isnull=True)
        .select_related("role_group", "ended_by")
        .prefetch_related(_open_extensions())
        .order_by("role_group__name")
    )
    past = (
        Grant.objects.filter(revoked_at__isnull=False)
        .select_related("role_group", "ended_by")
        .order_by("-revoked_at", "-pk")
    )[:PAST_GRANTS_SHOWN]
    return [
        Prefetch("grants", queryset=live, to_attr="live_grants"),
        Prefetch("grants", queryset=past, to_attr="past_grants"),
    ]


def grants_revocable_by(user: User, *, query: str = "") -> QuerySet[Grant]:
    """Live grants `user` may revoke: every one for a security admin, their reports' for a
    manager; never their own. Filtered by every word of `query` (person, role-group, user)."""
    grants = live_grants().exclude(iam_account__owner=user)
    if not roles.is_security_admin(user):
        grants = grants.filter(iam_account__owner__manager=user)
    for word in query.split():
        grants = grants.filter(
            Q(iam_account__owner__full_name__icontains=word)
            | Q(iam_account__owner__email__icontains=word)
            | Q(role_group__name__icontains=word)
            | Q(iam_account__user_name__icontains=word)
        )
    return grants.select_related("iam_account__owner", "role_group").order_by(
        "iam_account__owner__full_name", "iam_account__owner__email", "role_group__name", "pk"
    )


def temporary_role_groups() -> QuerySet[RoleGroup]:
    """Active temporary role-groups, each with its maximum `hours`."""
    return (
        RoleGroup.objects.filter(active=True, temporary_only=True)
        .annotate(hours=Coalesce("max_duration_hours", Value(rules.DEFAULT_MAX_HOURS)))
        .order_by("name")
    )


# --- Access reviews -------------------------------------------------------------------------


def campaigns() -> QuerySet[AccessReview]:
    return (
        AccessReview.objects.select_related("started_by")
        .prefetch_related("role_groups")
        .annotate(
            item_count=Count("items"),
            pending_count=Count("items", filter=Q(items__decision=ReviewItem.Decision.PENDING)),
        )
        .order_by("-started_at", "-pk")
    )


def campaign_get(pk: int) -> AccessReview:
    return get_object_or_404(campaigns(), pk=pk)


def campaign_decision_counts(campaign: AccessReview) -> dict[str, int]:
    rows = campaign.items.values("decision").annotate(n=Count("pk")).order_by()
    counts = {value: 0 for value in ReviewItem.Decision.values}
    counts.update({row["decision"]: row["n"] for row in rows})
    return counts


def _with_evidence(items: QuerySet[ReviewItem]) -> QuerySet[ReviewItem]:
    return items.select_related(
        "campaign",
        "holder",
        "reviewer",
        "decided_by",
        "grant__role_group",
        "grant__iam_account",
        "grant__ended_by",
    )


def _search(items: QuerySet[ReviewItem], query: str) -> QuerySet[ReviewItem]:
    for word in query.split():
        items = items.filter(
            Q(holder__full_name__icontains=word)
            | Q(holder__email__icontains=word)
            | Q(grant__role_group__name__icontains=word)
            | Q(grant__iam_account__user_name__icontains=word)
        )
    return items


def campaign_items(
    campaign: AccessReview, *, query: str = "", decision: str | None = None
) -> QuerySet[ReviewItem]:
    items = campaign.items.all()
    if decision is not None:
        items = items.filter(decision=decision)
    return _with_evidence(_search(items, query)).order_by(
        "holder__full_name", "holder__email", "pk"
    )


def review_items_for(user: User, *, query: str = "") -> QuerySet[ReviewItem]:
    """What `user` may decide now in open campaigns: items routed to them and, for a security
    admin, those routed to the security admins; never their own grants."""
    mine = Q(reviewer=user)
    if roles.is_security_admin(user):
        mine |= Q(reviewer__isnull=True)
    items = (
        ReviewItem.objects.filter(mine)
        .filter(
            decision=ReviewItem.Decision.PENDING,
            campaign__status=AccessReview.Status.OPEN,
        )
        .exclude(holder=user)
    )
    return _with_evidence(_search(items, query)).order_by(
        "campaign__deadline", "holder__full_name", "holder__email", "pk"
    )


def review_item_get(pk: int) -> ReviewItem | None:
    return _with_evidence(ReviewItem.objects.filter(pk=pk)).first()
