"""Roles: Django groups with permissions (made by a data migration), plus "manager", which
means having reports. Relational rules (manager-of) live in the services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from accounts.errors import NotAllowed

if TYPE_CHECKING:
    from accounts.models import User

# Whoever is looking at a page: a person, or nobody signed in.
Viewer = Union["User", AnonymousUser]

EMPLOYEES = "Employees"
HR = "HR"
SECURITY_ADMINS = "Security admins"
AUDITORS = "Auditors"

ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    EMPLOYEES: [],
    HR: [("accounts", "manage_people"), ("accounts", "offboard_people")],
    SECURITY_ADMINS: [
        ("provisioning", "manage_catalogue"),
        ("provisioning", "operate_provisioning"),
        ("audit", "view_audit"),
    ],
    AUDITORS: [("audit", "view_audit")],
}

MANAGE_PEOPLE = "accounts.manage_people"
OFFBOARD_PEOPLE = "accounts.offboard_people"
MANAGE_CATALOGUE = "provisioning.manage_catalogue"
OPERATE_PROVISIONING = "provisioning.operate_provisioning"
VIEW_AUDIT = "audit.view_audit"


def ensure_roles(*, using: str = "default") -> None:
    """Every role group exists with its permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    models_of = {"accounts": "user", "provisioning": "rolegroup", "audit": "auditevent"}
    for role, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        for app_label, codename in permissions:
            content_type, _ = ContentType.objects.db_manager(using).get_or_create(
                app_label=app_label, model=models_of[app_label]
            )
            permission, _ = Permission.objects.using(using).get_or_create(
                content_type=content_type, codename=codename, defaults={"name": codename}
            )
            group.permissions.add(permission)


def is_manager(user: Viewer) -> bool:
    if isinstance(user, AnonymousUser) or not user.is_authenticated:
        return False
    # Asked several times per page (navigation, views): once per request object.
    cached: bool | None = getattr(user, "_portal_is_manager", None)
    if cached is None:
        cached = user.reports.filter(is_active=True).exists()
        setattr(user, "_portal_is_manager", cached)  # noqa: B010 (not a declared field)
    return cached


def load_roles(user: Viewer) -> Viewer:
    """What every page asks of the signed-in person (manager? which permissions?) in one
    query instead of three, cached on the request's user object where Django's permission
    checks and `is_manager` look first."""
    if isinstance(user, AnonymousUser) or not user.is_active or user.is_superuser:
        return user  # nothing to ask, or Django's own path (a superuser holds every permission)
    from django.contrib.auth.models import Permission
    from django.db.models import CharField, Value

    from accounts.models import User

    def source(name: str) -> Value:
        return Value(name, output_field=CharField())

    rows = (
        Permission.objects.filter(user=user)
        .values_list("content_type__app_label", "codename", source("user"))
        .union(
            Permission.objects.filter(group__user=user).values_list(
                "content_type__app_label", "codename", source("group")
            ),
            User.objects.filter(manager=user, is_active=True).values_list(
                source(""), source(""), source("manager")
            ),
        )
    )
    found: dict[str, set[str]] = {"user": set(), "group": set(), "manager": set()}
    for app_label, codename, origin in rows:
        found[origin].add(f"{app_label}.{codename}")
    # The names Django's ModelBackend caches a person's permissions under, per request.
    setattr(user, "_user_perm_cache", found["user"])  # noqa: B010
    setattr(user, "_group_perm_cache", found["group"])  # noqa: B010
    setattr(user, "_portal_is_manager", bool(found["manager"]))  # noqa: B010
    return user


def is_hr(user: Viewer) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(MANAGE_PEOPLE))


def is_security_admin(user: Viewer) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(OPERATE_PROVISIONING))


def is_auditor(user: Viewer) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(VIEW_AUDIT))


def is_privileged(user: Viewer) -> bool:
    """People whose pages change or reveal others' access: they must use MFA where it is
    required. Auditors read the whole trail, so they are among them."""
    return is_manager(user) or is_hr(user) or is_security_admin(user) or is_auditor(user)


def navigation_for(user: Viewer) -> dict[str, bool]:
    if not getattr(user, "is_authenticated", False):
        return {}
    return {
        "manager": is_manager(user),
        "hr": is_hr(user),
        "security": is_security_admin(user),
        "audit": is_auditor(user),
    }


def home_url_for(user: Viewer) -> str:
    """Each role lands on the page where its work is."""
    if is_hr(user):
        return reverse("people_directory")
    if is_security_admin(user):
        return reverse("operations")
    if is_manager(user):
        return reverse("approvals")
    if is_auditor(user):
        return reverse("audit_log")
    return reverse("my_access")


def require_people_manager(actor: User | None) -> None:
    """HR only (None is the command line, on the operator's authority)."""
    if actor is not None and not actor.has_perm(MANAGE_PEOPLE):
        raise NotAllowed("Only HR can change people in the directory.")
