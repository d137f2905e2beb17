"""The catalogue services and pages: security admins edit what people can request."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from provisioning.catalogue.forms import RoleGroupForm
from provisioning.catalogue.services import role_group_create, role_group_update
from provisioning.errors import CatalogueError
from provisioning.models import RoleGroup
from tests.factories import AccessRequestFactory, RoleGroupFactory

NEW_ROLE_GROUP = {
    "name": "Billing readers",
    "description": "See the bills.",
    "iam_group_name": "portal-billing",
    "managed_policy_arns": "arn:aws:iam::aws:policy/job-function/Billing\n"
    "arn:aws:iam::123456789012:policy/team/CostExplorerRead",
    "sensitive": "",
    "max_duration_days": "30",
    "active": "on",
}


def _fields(**overrides: object) -> dict[str, object]:
    return {
        "name": "Billing readers",
        "description": "",
        "iam_group_name": "portal-billing",
        "managed_policy_arns": ["arn:aws:iam::aws:policy/job-function/Billing"],
        "sensitive": False,
        "max_duration_days": None,
        "active": True,
        **overrides,
    }


# --- Services --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_creating_a_role_group_records_who_created_it_and_how(security_admin):
    role_group = role_group_create(actor=security_admin, ip="10.1.2.3", **_fields(sensitive=True))

    event = AuditEvent.objects.get(action="catalogue.created")
    assert event.actor_id == security_admin.pk
    assert event.target == f"role_group:{role_group.pk}"
    assert event.ip == "10.1.2.3"
    assert event.data["iam_group_name"] == "portal-billing"
    assert event.data["sensitive"] is True


@pytest.mark.django_db
def test_only_security_admins_may_change_the_catalogue(hr_person):
    with pytest.raises(CatalogueError):
        role_group_create(actor=hr_person, **_fields())
    assert not RoleGroup.objects.filter(name="Billing readers").exists()


@pytest.mark.django_db
def test_a_duplicate_iam_group_name_is_refused_with_a_message(security_admin):
    with pytest.raises(CatalogueError, match="already has this name"):
        role_group_create(actor=security_admin, **_fields(iam_group_name="portal-analysts"))


@pytest.mark.django_db
def test_updating_records_only_the_fields_that_changed(security_admin):
    role_group = RoleGroupFactory(max_duration_days=None)

    changed = role_group_update(
        actor=security_admin,
        role_group=role_group,
        **{**_snapshot(role_group), "sensitive": True, "max_duration_days": 14},
    )

    assert changed == ["sensitive", "max_duration_days"]
    role_group.refresh_from_db()
    assert role_group.sensitive and role_group.max_duration_days == 14
    event = AuditEvent.objects.get(action="catalogue.updated")
    assert event.data == {"changes": {"sensitive": [False, True], "max_duration_days": [None, 14]}}


@pytest.mark.django_db
def test_saving_without_changes_writes_nothing(security_admin):
    role_group = RoleGroupFactory()
    assert (
        role_group_update(actor=security_admin, role_group=role_group, **_snapshot(role_group))
        == []
    )
    assert not AuditEvent.objects.filter(action="catalogue.updated").exists()


@pytest.mark.django_db
def test_the_iam_group_name_is_fixed_once_someone_asked_for_the_role_group(
    security_admin, employee
):
    role_group = RoleGroupFactory(iam_group_name="portal-old")
    AccessRequestFactory(
        requester=employee, role_group=role_group, access_type="console", justification="work"
    )

    with pytest.raises(CatalogueError, match="cannot change"):
        role_group_update(
            actor=security_admin,
            role_group=role_group,
            **{**_snapshot(role_group), "iam_group_name": "portal-new"},
        )
    role_group.refresh_from_db()
    assert role_group.iam_group_name == "portal-old"


def _snapshot(role_group: RoleGroup) -> dict[str, object]:
    from provisioning.catalogue.services import EDITABLE_FIELDS

    return {name: getattr(role_group, name) for name in EDITABLE_FIELDS}


# --- Form ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_form_turns_policy_lines_into_a_list_without_blanks_or_repeats():
    data = {
        **NEW_ROLE_GROUP,
        "managed_policy_arns": " arn:aws:iam::aws:policy/ReadOnlyAccess \n\n"
        "arn:aws:iam::aws:policy/ReadOnlyAccess\n",
    }
    form = RoleGroupForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["managed_policy_arns"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("iam_group_name", "portal developers", "Use only letters"),
        ("iam_group_name", "é-group", "Use only letters"),
        ("iam_group_name", "g" * 129, "128"),
        ("managed_policy_arns", "arn:aws:iam::aws:policy/ReadOnlyAccess\nReadOnlyAccess", "Line 2"),
        ("managed_policy_arns", "arn:aws:iam::12345:policy/Short", "Line 1"),
        ("managed_policy_arns", "arn:aws:s3:::bucket", "Line 1"),
        (
            "managed_policy_arns",
            "\n".join(f"arn:aws:iam::aws:policy/P{n}" for n in range(10)),
            "at most 9",
        ),
        ("max_duration_days", "0", "Between 1 and 3650"),
        ("name", "Analysts", "already exists"),
    ],
)
def test_form_refuses_what_iam_would_refuse(field, value, message):
    form = RoleGroupForm({**NEW_ROLE_GROUP, field: value})
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


# --- Pages -----------------------------------------------------------------------------------

PAGES = [
    ("get", "catalogue", False),
    ("get", "catalogue_create", False),
    ("get", "catalogue_edit", True),
    ("post", "catalogue_sync", False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name", "needs_pk"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, method, name, needs_pk):
    url = reverse(name, kwargs={"pk": RoleGroup.objects.first().pk} if needs_pk else None)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["employee", "manager", "hr", "auditor"])
@pytest.mark.parametrize(("method", "name", "needs_pk"), PAGES)
def test_only_security_admins_reach_the_catalogue(client, people, role, method, name, needs_pk):
    client.force_login(people[role])
    url = reverse(name, kwargs={"pk": RoleGroup.objects.first().pk} if needs_pk else None)
    assert getattr(client, method)(url).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "needs_pk"),
    [("catalogue", False), ("catalogue_create", False), ("catalogue_edit", True)],
)
def test_security_admins_open_the_catalogue_pages(client, security_admin, name, needs_pk):
    client.force_login(security_admin)
    url = reverse(name, kwargs={"pk": RoleGroup.objects.first().pk} if needs_pk else None)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_the_catalogue_page_lists_the_seeded_role_groups(client, security_admin):
    client.force_login(security_admin)
    page = client.get(reverse("catalogue")).content.decode()
    for name in ("Developers", "Analysts", "Administrators", "portal-administrators"):
        assert name in page
    assert "manager and security admin" in page
    assert "Never synced" in page


@pytest.mark.django_db
def test_sync_is_post_only(client, security_admin):
    client.force_login(security_admin)
    assert client.get(reverse("catalogue_sync")).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 40])
def test_the_catalogue_page_uses_a_constant_number_of_queries(
    client, security_admin, django_assert_max_num_queries, count
):
    RoleGroupFactory.create_batch(count)
    client.force_login(security_admin)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("catalogue"))
    assert response.status_code == 200
    assert response.content.decode().count(">Edit<") == RoleGroup.objects.count()


@pytest.mark.django_db
def _customer_policy(name: str = "CostExplorerRead", path: str = "/team/") -> None:
    import json

    from provisioning import aws as gateway

    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ce:Get*", "Resource": "*"}],
    }
    gateway.call("CreatePolicy", PolicyName=name, Path=path, PolicyDocument=json.dumps(document))


def test_a_security_admin_adds_a_role_group_through_the_form(client, security_admin):
    _customer_policy()
    client.force_login(security_admin)
    response = client.post(reverse("catalogue_create"), NEW_ROLE_GROUP, follow=True)

    role_group = RoleGroup.objects.get(name="Billing readers")
    assert role_group.managed_policy_arns == [
        "arn:aws:iam::aws:policy/job-function/Billing",
        "arn:aws:iam::123456789012:policy/team/CostExplorerRead",
    ]
    assert role_group.max_duration_days == 30 and role_group.active and not role_group.sensitive
    assert "Billing readers added" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="catalogue.created", actor_id=security_admin.pk
    ).exists()


@pytest.mark.django_db
def test_a_form_error_is_shown_next_to_the_field_and_nothing_is_saved(client, security_admin):
    client.force_login(security_admin)
    response = client.post(
        reverse("catalogue_create"), {**NEW_ROLE_GROUP, "iam_group_name": "has spaces"}
    )
    assert response.status_code == 200
    assert "Use only letters" in response.content.decode()
    assert not RoleGroup.objects.filter(name="Billing readers").exists()


@pytest.mark.django_db
def test_a_security_admin_edits_a_role_group_and_the_form_shows_its_policies(
    client, security_admin
):
    role_group = RoleGroup.objects.get(name="Developers")
    client.force_login(security_admin)
    page = client.get(reverse("catalogue_edit", kwargs={"pk": role_group.pk})).content.decode()
    assert (
        "arn:aws:iam::aws:policy/AmazonEC2FullAccess\narn:aws:iam::aws:policy/AmazonS3FullAccess"
        in page
    )

    client.post(
        reverse("catalogue_edit", kwargs={"pk": role_group.pk}),
        {
            "name": "Developers",
            "description": role_group.description,
            "iam_group_name": role_group.iam_group_name,
            "managed_policy_arns": "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
            "max_duration_days": "",
            "active": "on",
        },
    )
    role_group.refresh_from_db()
    assert role_group.managed_policy_arns == ["arn:aws:iam::aws:policy/AmazonEC2FullAccess"]
    event = AuditEvent.objects.get(action="catalogue.updated")
    assert list(event.data["changes"]) == ["managed_policy_arns"]


@pytest.mark.django_db
def test_a_refused_rename_is_explained_on_the_form(client, security_admin, employee):
    role_group = RoleGroup.objects.get(name="Analysts")
    AccessRequestFactory(
        requester=employee, role_group=role_group, access_type="console", justification="work"
    )
    client.force_login(security_admin)
    response = client.post(
        reverse("catalogue_edit", kwargs={"pk": role_group.pk}),
        {
            "name": "Analysts",
            "iam_group_name": "portal-analysts-2",
            "managed_policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "cannot change once access" in response.content.decode()


@pytest.mark.django_db
def test_hr_cannot_create_through_the_form_even_with_a_crafted_post(client, hr_person):
    client.force_login(hr_person)
    assert client.post(reverse("catalogue_create"), NEW_ROLE_GROUP).status_code == 403
    assert not RoleGroup.objects.filter(name="Billing readers").exists()


@pytest.mark.django_db
def test_a_mistyped_policy_arn_is_refused_naming_it_and_nothing_is_saved(client, security_admin):
    client.force_login(security_admin)
    typo = "arn:aws:iam::aws:policy/ReadOnlyAcess"
    response = client.post(
        reverse("catalogue_create"), {**NEW_ROLE_GROUP, "managed_policy_arns": typo}
    )
    assert response.status_code == 200
    assert f"AWS has no managed policy {typo}" in response.content.decode()
    assert not RoleGroup.objects.filter(name="Billing readers").exists()


@pytest.mark.django_db
def test_a_new_role_group_is_not_ready_to_request_until_synced(client, security_admin, employee):
    from provisioning.catalogue.selectors import role_groups_offered
    from provisioning.catalogue.services import catalogue_sync, role_group_create

    created = role_group_create(
        actor=security_admin,
        name="Readers (new)",
        iam_group_name="portal-readers-new",
        managed_policy_arns=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    )
    assert created not in role_groups_offered()
    client.force_login(security_admin)
    assert "Not ready yet" in client.get(reverse("catalogue")).content.decode()
    client.force_login(employee)
    assert "Readers (new)" not in client.get(reverse("request_access")).content.decode()

    catalogue_sync(actor=security_admin)
    created.refresh_from_db()
    assert created.synced_at is not None
    assert created in role_groups_offered()


def test_the_role_group_form_says_which_fields_are_optional(client, security_admin):
    client.force_login(security_admin)
    page = client.get(reverse("catalogue_create")).content.decode()
    optional = page.split('for="id_managed_policy_arns"', 1)[1].split("</label>", 1)[0]
    required = page.split('for="id_name"', 1)[1].split("</label>", 1)[0]
    assert "(optional)" in optional
    assert "(optional)" not in required
