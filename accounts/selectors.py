"""Reads the people pages need, each with its joins, so a page costs the same number of
queries whether the organisation has one person or thousands."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts import roles
from accounts.models import EmploymentStatus, User

PEOPLE_PER_PAGE = 50

STATUS_FILTERS = {
    "active": Q(is_active=True, employment_status=EmploymentStatus.ACTIVE),
    "left": Q(is_active=False) | Q(employment_status=EmploymentStatus.LEFT),
}


def people_search(*, query: str = "", status: str = "") -> QuerySet[User]:
    """People whose name, email or department contain every word of `query`."""
    # Reports counted per row shown (a subquery the page's LIMIT bounds), not grouped over
    # everyone before sorting; the paginator's COUNT then leaves it out.
    active_reports = (
        User.objects.filter(manager=OuterRef("pk"), is_active=True)
        .order_by()
        .values("manager")
        .annotate(n=Count("pk"))
        .values("n")
    )
    people = User.objects.select_related("manager").annotate(
        report_count=Coalesce(Subquery(active_reports), 0)
    )
    for word in query.split():
        people = people.filter(
            Q(full_name__icontains=word) | Q(email__icontains=word) | Q(department__icontains=word)
        )
    if status in STATUS_FILTERS:
        people = people.filter(STATUS_FILTERS[status])
    return people.order_by("full_name", "email", "pk")


def person_for_page(pk: int) -> User:
    """One person with their manager, direct reports and role groups, or 404."""
    people = User.objects.select_related("manager").prefetch_related(
        Prefetch("reports", queryset=User.objects.order_by("full_name", "email", "pk")),
        "groups",
    )
    return get_object_or_404(people, pk=pk)


def person_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()


def manager_choices() -> list[tuple[str, str]]:
    """(email, name) of everyone who can be a manager, for the manager picker: one query."""
    current = User.objects.filter(is_active=True, employment_status=EmploymentStatus.ACTIVE)
    return list(current.order_by("full_name", "email").values_list("email", "full_name"))


def departments() -> list[str]:
    """The departments in use, to suggest while typing one."""
    names = (
        User.objects.exclude(department="")
        .order_by("department")
        .values_list("department", flat=True)
        .distinct()
    )
    return list(names)


def email_domain_problem(email: str) -> str | None:
    """Why the portal will not have a person with this email, or None: only the
    organisation's domains (PORTAL_ALLOWED_EMAIL_DOMAINS), so no one can bring an outside
    identity in and give it access."""
    domain = email.strip().lower().rpartition("@")[2]
    allowed = settings.PORTAL_ALLOWED_EMAIL_DOMAINS
    if domain in allowed:
        return None
    listed = ", ".join(f"@{name}" for name in allowed)
    return f"{email} is not an address of the organisation (allowed: {listed})."


def org_chart_cutoff(now: datetime | None = None) -> datetime:
    """Placements after this are recent: their author may not approve for that person."""
    return (now or timezone.now()) - timedelta(days=settings.ORG_CHART_COOLDOWN_DAYS)


def is_current(person: User) -> bool:
    return person.is_active and person.employment_status == EmploymentStatus.ACTIVE


def manager_problem(*, person: User, manager: User | None) -> str | None:
    """Why `manager` cannot be `person`'s manager, or None when they can.

    A loop in the management chain would make "manager of" approvals undecidable, so the
    chain above the proposed manager must not reach the person."""
    if manager is None:
        return None
    if manager.pk == person.pk:
        return "A person cannot be their own manager."
    if not is_current(manager):
        return f"{manager.email} has left the organisation and cannot be a manager."
    seen = {manager.pk}
    above = manager.manager_id
    while above is not None and above not in seen:
        if above == person.pk:
            return (
                f"{manager.email} already reports to {person.email} (directly or through "
                "others); this would make a loop in the management chain."
            )
        seen.add(above)
        above = User.objects.filter(pk=above).values_list("manager_id", flat=True).first()
    return None


# --- Who holds a role --------------------------------------------------------------------------


def people_with_permission(permission: str) -> QuerySet[User]:
    """Active people who hold `permission` (by role, directly, or as superuser)."""
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


def security_admins() -> QuerySet[User]:
    return people_with_permission(roles.OPERATE_PROVISIONING)


def security_admin_emails(*, excluding: tuple[int | None, ...] = ()) -> list[str]:
    return [admin.email for admin in security_admins() if admin.pk not in set(excluding)]


def hr_emails() -> list[str]:
    """Everyone who may offboard people: they get every offboarding's report."""
    return list(people_with_permission(roles.OFFBOARD_PEOPLE).values_list("email", flat=True))
