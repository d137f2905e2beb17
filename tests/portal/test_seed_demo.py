"""`manage.py seed_demo`: the demo people of the README, idempotent, never in production."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts import roles
from accounts.models import User
from audit.models import AuditEvent


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_people_sign_in_with_the_published_password_and_land_on_their_pages(client):
    _seed()
    landing = {
        "employee@example.com": "my_access",
        "manager@example.com": "approvals",
        "hr@example.com": "people_directory",
        "security@example.com": "operations",
        "auditor@example.com": "audit_log",
    }
    for email, page in landing.items():
        client.logout()
        response = client.post(
            reverse("account_login"), {"login": email, "password": "portal-demo-pass"}
        )
        assert response.status_code == 302, email
        home = client.get(response["Location"], follow=True)
        assert home.request["PATH_INFO"] == reverse("home"), email
        assert f'href="{reverse(page)}">Go to your main page' in home.content.decode(), email


@pytest.mark.django_db
def test_the_demo_org_chart_and_roles_are_as_the_readme_says():
    _seed()
    people = {person.email: person for person in User.objects.all()}
    employee, manager = people["employee@example.com"], people["manager@example.com"]
    assert employee.manager == manager
    assert roles.is_manager(manager) and not roles.is_manager(employee)
    assert roles.is_hr(people["hr@example.com"])
    assert roles.is_security_admin(people["security@example.com"])
    assert roles.is_auditor(people["auditor@example.com"])
    assert not roles.is_hr(people["auditor@example.com"])
    assert all(person.full_name and person.department for person in people.values())


@pytest.mark.django_db
def test_seeding_twice_changes_nothing_the_second_time():
    first = _seed()
    second = _seed()

    assert "created or restored" in first
    assert second.strip() == "Demo people already in place."
    assert User.objects.count() == 5
    assert AuditEvent.objects.filter(action="demo.seeded").count() == 1


@pytest.mark.django_db
def test_seeding_restores_a_demo_person_someone_changed():
    _seed()
    User.objects.filter(email="employee@example.com").update(manager=None, is_active=False)

    assert "employee@example.com" in _seed()
    employee = User.objects.get(email="employee@example.com")
    assert employee.is_active and employee.manager.email == "manager@example.com"


@pytest.mark.django_db
def test_seeding_is_refused_in_production(settings):
    settings.PORTAL_ENV = "production"
    with pytest.raises(CommandError, match="published password"):
        _seed()
    assert not User.objects.exists()
