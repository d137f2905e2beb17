"""What every page asks of the signed-in person (manager? HR? security? auditor?) is read in
one query, and answers exactly as Django's own permission checks do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import roles
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ASKED = [
    roles.MANAGE_PEOPLE,
    roles.OFFBOARD_PEOPLE,
    roles.MANAGE_CATALOGUE,
    roles.OPERATE_PROVISIONING,
    roles.VIEW_AUDIT,
]


def _answers(user: User) -> tuple[bool, dict[str, bool], set[str]]:
    return (
        roles.is_manager(user),
        {perm: user.has_perm(perm) for perm in ASKED},
        user.get_all_permissions(),
    )


@pytest.mark.parametrize(
    "role_names, direct, has_report",
    [
        ([], False, False),
        ([roles.HR], False, True),
        ([roles.SECURITY_ADMINS, roles.AUDITORS], True, False),
        ([roles.AUDITORS], True, True),
    ],
)
def test_roles_load_in_one_query_and_answer_as_django_does(role_names, direct, has_report):
    person = UserFactory(roles=role_names)
    if direct:
        person.user_permissions.add(Permission.objects.get(codename="manage_catalogue"))
    if has_report:
        UserFactory(manager=person)
        UserFactory(manager=person, is_active=False)

    expected = _answers(User.objects.get(pk=person.pk))  # Django's own queries
    loaded = User.objects.get(pk=person.pk)
    with CaptureQueriesContext(connection) as queries:
        roles.load_roles(loaded)
        answers = _answers(loaded)
    assert len(queries) == 1
    assert answers == expected
    assert (roles.MANAGE_CATALOGUE in answers[2]) is (direct or roles.SECURITY_ADMINS in role_names)


def test_only_an_active_report_makes_a_manager():
    person = UserFactory()
    UserFactory(manager=person, is_active=False)
    assert roles.is_manager(roles.load_roles(User.objects.get(pk=person.pk))) is False


def test_a_signed_in_page_asks_for_the_persons_roles_once(client):
    hr = UserFactory(roles=[roles.HR])
    UserFactory(manager=hr)
    client.force_login(hr)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/people/")
    assert response.status_code == 200
    permission_reads = [q for q in queries if '"auth_permission"' in q["sql"]]
    assert len(permission_reads) == 1
    assert "manager_id" in permission_reads[0]["sql"]  # is_manager, in the same read
    assert not [q for q in queries if 'AS "a" FROM "accounts_user"' in q["sql"]]
