"""Roles: Django groups with permissions (made by a data migration), plus "manager", which
means having reports. Relational rules (manager-of) live in the services."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Union

from django.contrib.auth.models import AnonymousUser
from django.db import connection
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


@functools.cache
def _roles_sql() -> str:
    """`load_roles`'s one statement, written once: the ORM's three-part UNION took about 5 ms
    to compile on every request, for a query Postgres answers in well under one."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import User

    def table(model: Any) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    permission, content_type = table(Permission), table(ContentType)
    direct, member = table(User.user_permissions.through), table(User.groups.through)
    granted, people = table(Group.permissions.through), table(User)
    return f"""
        SELECT ct.app_label, p.codename, 'user' FROM {permission} p
        JOIN {content_type} ct ON ct.id = p.content_type_id
        JOIN {direct} up ON up.permission_id = p.id WHERE up.user_id = %s
        UNION ALL
        SELECT ct.app_label, p.codename, 'group' FROM {permission} p
        JOIN {content_type} ct ON ct.id = p.content_type_id
        JOIN {granted} gp ON gp.permission_id = p.id
        JOIN {member} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s
        UNION ALL
        SELECT '', '', 'manager' WHERE EXISTS
            (SELECT 1 FROM {people} r WHERE r.manager_id = %s AND r.is_active = %s)
    """  # noqa: S608 (the models' own table names, no input)


def load_roles(user: Viewer) -> Viewer:
    """What every page asks of the signed-in person (manager? which permissions?) in one
    query instead of three, cached on the request's user object where Django's permission
    checks and `is_manager` look first."""
    if isinstance(user, AnonymousUser) or not user.is_active or user.is_superuser:
        return user  # nothing to ask, or Django's own path (a superuser holds every permission)
    found: dict[str, set[str]] = {"user": set(), "group": set(), "manager": set()}
    with connection.cursor() as cursor:
        cursor.execute(_roles_sql(), [user.pk, user.pk, user.pk, True])
        for app_label, codename, origin in cursor.fetchall():
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
