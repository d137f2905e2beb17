"""The demo organisation for `make run`: one person per role, all with the same known password.

Idempotent: running it again changes nothing unless someone edited a demo person, in which case
it puts them back as the README describes them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

import audit
from accounts import roles
from accounts.models import EmploymentStatus, User

DEMO_PASSWORD = "portal-demo-pass"  # noqa: S105 (published in the README on purpose)

# (email, full name, department, manager's email, extra role)
DEMO_PEOPLE: list[tuple[str, str, str, str | None, str | None]] = [
    ("manager@example.com", "Morgan Manager", "Engineering", None, None),
    ("employee@example.com", "Erin Employee", "Engineering", "manager@example.com", None),
    ("hr@example.com", "Harper Hughes", "People", None, roles.HR),
    ("security@example.com", "Sam Security", "Security", None, roles.SECURITY_ADMINS),
    ("auditor@example.com", "Alex Auditor", "Internal audit", None, roles.AUDITORS),
]


class Command(BaseCommand):
    help = "Create (or restore) the demo people. Refused outside the demo (PORTAL_ENV=production)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PORTAL_ENV == "production":
            raise CommandError("seed_demo creates people with a published password: not here.")
        with transaction.atomic():
            changed = _seed()
            if changed:
                audit.record("demo.seeded", data={"people": changed})
        if changed:
            self.stdout.write(f"Demo people created or restored: {', '.join(changed)}")
        else:
            self.stdout.write("Demo people already in place.")


def _seed() -> list[str]:
    groups = {group.name: group for group in Group.objects.all()}
    changed: list[str] = []
    people: dict[str, User] = {}
    for email, full_name, department, manager_email, role in DEMO_PEOPLE:
        wanted = {
            "full_name": full_name,
            "department": department,
            "manager": people.get(manager_email) if manager_email else None,
            "employment_status": EmploymentStatus.ACTIVE,
            "is_active": True,
        }
        person = User.objects.filter(email=email).first()
        dirty = person is None
        if person is None:
            person = User(email=email, **wanted)
        for field, value in wanted.items():
            if getattr(person, field) != value:
                setattr(person, field, value)
                dirty = True
        if not person.check_password(DEMO_PASSWORD):
            person.set_password(DEMO_PASSWORD)
            dirty = True
        if dirty:
            person.save()
        wanted_groups = {roles.EMPLOYEES, *([role] if role else [])}
        held = set(person.groups.values_list("name", flat=True))
        missing = [groups[name] for name in sorted(wanted_groups - held)]
        if missing:
            person.groups.add(*missing)
            dirty = True
        if dirty:
            changed.append(email)
        people[email] = person
    return changed
