"""The identity provider creates and updates people over SCIM, with HR's import checks;
refused payloads get clear SCIM errors and write nothing."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import roles
from accounts.models import User
from audit.models import AuditEvent
from provisioning.models import AccessRequest, ScimIdentity
from tests.factories import AccessRequestFactory, UserFactory
from tests.provisioning.scim.conftest import ENTERPRISE, user_payload

pytestmark = pytest.mark.django_db


def test_a_pushed_user_becomes_an_employee_audited_as_the_token(scim: Any, manager: Any) -> None:
    payload = user_payload(
        "Robin.New@example.com",
        externalId="00u1",
        **{ENTERPRISE: {"department": "Finance", "manager": {"value": str(manager.pk)}}},
    )
    response = scim("post", "/Users", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    person = User.objects.get(email="robin.new@example.com")
    assert body["id"] == str(person.pk)
    assert body["userName"] == "Robin.New@example.com"
    assert body[ENTERPRISE]["manager"]["value"] == str(manager.pk)
    assert response["Location"].endswith(f"/scim/v2/Users/{person.pk}")
    assert person.full_name == "Robin Example"
    assert person.department == "Finance"
    assert person.manager == manager
    assert [group.name for group in person.groups.all()] == [roles.EMPLOYEES]
    assert not person.has_usable_password()
    # A token is not a person: it placed them, and no one is recorded as their placer.
    assert person.placed_by is None and person.placed_at is not None
    created = AuditEvent.objects.get(action="person.created")
    assert created.actor_id is None and created.actor_label == "scim:okta"
    assert created.data == {
        "email": "robin.new@example.com",
        "full_name": "Robin Example",
        "department": "Finance",
        "manager": manager.email,
        "via": "scim",
    }
    call = AuditEvent.objects.get(action="scim.request")
    assert call.actor_label == "scim:okta"
    assert call.data == {"method": "POST", "path": "/Users", "status": 201}
    assert ScimIdentity.objects.get(person=person).external_id == "00u1"


def test_the_identity_provider_finds_an_imported_person_by_user_name(scim: Any) -> None:
    imported = UserFactory(email="imported@example.com")
    response = scim("get", "/Users", filter='userName eq "IMPORTED@example.com"')
    assert response.status_code == 200
    body = response.json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["id"] == str(imported.pk)


def test_a_new_manager_is_audited_and_reroutes_undecided_requests(
    scim: Any, employee: Any, manager: Any
) -> None:
    new_manager = UserFactory(email="new.manager@example.com")
    pending = AccessRequestFactory(requester=employee)
    assert pending.first_approver == manager
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "replace",
                "path": f"{ENTERPRISE}:manager",
                "value": {"value": str(new_manager.pk)},
            }
        ],
    }
    response = scim("patch", f"/Users/{employee.pk}", patch)
    assert response.status_code in (200, 204), response.content
    employee.refresh_from_db()
    assert employee.manager == new_manager
    assert employee.placed_by is None
    updated = AuditEvent.objects.get(action="person.updated")
    assert updated.actor_label == "scim:okta"
    assert updated.data["before"] == {"manager": manager.email}
    assert updated.data["after"] == {"manager": new_manager.email}
    assert updated.data["via"] == "scim"
    pending.refresh_from_db()
    assert pending.first_approver == new_manager
    assert AuditEvent.objects.filter(action="request.rerouted").exists()


def test_a_manager_loop_is_refused_with_a_scim_error_and_nothing_written(
    scim: Any, employee: Any, manager: Any
) -> None:
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    payload = user_payload(manager.email, **{ENTERPRISE: {"manager": {"value": str(employee.pk)}}})
    response = scim("put", f"/Users/{manager.pk}", payload)
    assert response.status_code == 400
    error = response.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert error["scimType"] == "invalidValue"
    assert "loop in the management chain" in error["detail"]
    manager.refresh_from_db()
    assert manager.manager is None
    assert not ScimIdentity.objects.exists()
    # Only the call itself is recorded.
    assert list(AuditEvent.objects.filter(pk__gt=before).values_list("action", flat=True)) == [
        "scim.request"
    ]


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (user_payload("outsider@elsewhere.org"), "is not an address of the organisation"),
        (
            user_payload("robin@example.com", **{ENTERPRISE: {"manager": {"value": "999999"}}}),
            "is not a person of this directory",
        ),
        (
            user_payload("robin@example.com", **{ENTERPRISE: {"manager": {"value": "boss"}}}),
            "is not the id of a user here",
        ),
        ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}, ""),
        ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 12}, ""),
    ],
    ids=["other-domain", "unknown-manager", "bad-manager-id", "no-user-name", "bad-type"],
)
def test_a_bad_payload_gets_a_scim_error_and_creates_no_one(
    scim: Any, payload: dict, detail: str
) -> None:
    people = User.objects.count()
    response = scim("post", "/Users", payload)
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["status"] == "400"
    assert detail in error.get("detail", "")
    assert User.objects.count() == people
    assert not AuditEvent.objects.filter(action="person.created").exists()


def test_a_second_user_with_a_taken_email_is_a_uniqueness_conflict(scim: Any) -> None:
    UserFactory(email="taken@example.com")
    response = scim("post", "/Users", user_payload("taken@example.com"))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


def test_a_leaver_is_not_brought_back(scim: Any, employee: Any) -> None:
    employee.is_active = False
    employee.employment_status = "left"
    employee.save()
    response = scim("put", f"/Users/{employee.pk}", user_payload(employee.email))
    assert response.status_code == 400
    assert "does not bring leavers back" in response.json()["detail"]
    employee.refresh_from_db()
    assert not employee.is_active


def test_listing_users_costs_the_same_queries_whatever_their_number(
    scim: Any, django_assert_max_num_queries: Any
) -> None:
    UserFactory.create_batch(3)
    with django_assert_max_num_queries(12):
        assert scim("get", "/Users", count="50").status_code == 200
    UserFactory.create_batch(40)
    with django_assert_max_num_queries(12):
        response = scim("get", "/Users", count="50")
    assert response.json()["totalResults"] == 43
    assert AccessRequest.objects.count() == 0
