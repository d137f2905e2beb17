"""SCIM tokens: made on a page or by the command (shown once, kept hashed), revoked, with
scopes; every call audited, the token's value never."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from provisioning.models import ScimIdentity, ScimToken
from provisioning.scim.tokens import scim_token_create, scim_token_revoke
from tests.factories import ScimTokenFactory, UserFactory
from tests.provisioning.scim.conftest import scim_caller, user_payload

pytestmark = pytest.mark.django_db


def test_the_command_prints_the_token_once_and_keeps_only_its_hash() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("scim_token", "create", "okta", stdout=out, stderr=err)
    value = out.getvalue().strip()
    token = ScimToken.objects.get(name="okta")
    assert value.startswith("scim_") and len(value) > 40
    assert token.token_hash == hashlib.sha256(value.encode()).hexdigest()
    assert value not in str(ScimToken.objects.values())
    assert "shown only now" in err.getvalue()
    created = AuditEvent.objects.get(action="scim.token_created")
    assert value not in str(created.data)
    assert scim_caller(value)("get", "/Users").status_code == 200


def test_a_security_admin_makes_a_token_on_the_page_and_sees_it_once(
    client: Client, security_admin: Any
) -> None:
    client.force_login(security_admin)
    response = client.post(reverse("scim_tokens"), {"name": "Entra-Prod", "scopes": ["read"]})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    value = response.context["value"]
    assert value in response.content.decode()
    token = ScimToken.objects.get(name="entra-prod")
    assert token.scopes == ["read"] and token.created_by == security_admin
    page = client.get(reverse("scim_tokens")).content.decode()
    assert "entra-prod" in page and value not in page


def test_the_token_form_rejects_a_bad_name_and_no_scope(
    client: Client, security_admin: Any
) -> None:
    client.force_login(security_admin)
    response = client.post(reverse("scim_tokens"), {"name": "Okta prod!", "scopes": []})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Use lower-case letters" in page
    assert "Choose at least one thing the token may do." in page
    assert not ScimToken.objects.exists()


def test_a_revoked_token_is_refused_with_401_and_the_refusal_audited(
    client: Client, security_admin: Any
) -> None:
    issued = scim_token_create(actor=None, name="okta", scopes=["read"])
    client.force_login(security_admin)
    client.post(reverse("scim_token_revoke", args=[issued.token.pk]))
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None and issued.token.revoked_by == security_admin
    response = scim_caller(issued.value)("get", "/Users")
    assert response.status_code == 401
    assert response.json()["status"] == "401"
    assert "Bearer" in response["WWW-Authenticate"]
    refused = AuditEvent.objects.filter(action="scim.request").latest("pk")
    assert refused.actor_label == "scim:unauthenticated"
    assert refused.data["status"] == 401
    assert AuditEvent.objects.filter(action="scim.token_revoked").count() == 1


def test_no_token_or_a_session_is_not_a_credential(client: Client, security_admin: Any) -> None:
    assert scim_caller(None)("get", "/Users").status_code == 401
    client.force_login(security_admin)
    assert client.get("/scim/v2/Users").status_code == 401
    # Discovery of the configuration needs no token (RFC 7644 §4).
    assert scim_caller(None)("get", "/ServiceProviderConfig").status_code == 200


def test_a_read_only_token_cannot_create_people() -> None:
    issued = scim_token_create(actor=None, name="reader", scopes=["read"])
    response = scim_caller(issued.value)("post", "/Users", user_payload("new@example.com"))
    assert response.status_code == 403
    assert "write scope" in response.json()["detail"]
    assert not ScimIdentity.objects.exists()


def test_a_token_without_the_offboard_scope_cannot_make_anyone_leave(employee: Any) -> None:
    issued = scim_token_create(actor=None, name="writer", scopes=["read", "write"])
    call = scim_caller(issued.value)
    response = call("put", f"/Users/{employee.pk}", user_payload(employee.email, active=False))
    assert response.status_code == 403
    assert "offboard scope" in response.json()["detail"]
    assert call("delete", f"/Users/{employee.pk}").status_code == 403
    employee.refresh_from_db()
    assert employee.is_active


def test_only_security_admins_manage_tokens(employee: Any) -> None:
    from provisioning.scim.tokens import ScimTokenError

    with pytest.raises(ScimTokenError):
        scim_token_create(actor=employee, name="okta", scopes=["read"])
    token = ScimTokenFactory()
    with pytest.raises(ScimTokenError):
        scim_token_revoke(actor=employee, token=token)


def test_the_tokens_page_costs_the_same_queries_whatever_their_number(
    client: Client, security_admin: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(security_admin)
    ScimTokenFactory.create_batch(2, created_by=UserFactory())
    with django_assert_max_num_queries(12):
        assert client.get(reverse("scim_tokens")).status_code == 200
    ScimTokenFactory.create_batch(30, created_by=UserFactory())
    with django_assert_max_num_queries(12):
        assert client.get(reverse("scim_tokens")).status_code == 200
