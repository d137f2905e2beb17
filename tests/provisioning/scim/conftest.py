from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from provisioning.models import ScimToken
from provisioning.scim.tokens import scim_token_create

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def scim_token(db: None) -> str:
    """The plain value of a live token named okta with every scope."""
    return scim_token_create(actor=None, name="okta", scopes=list(ScimToken.Scope.values)).value


@pytest.fixture
def scim(scim_token: str) -> Callable[..., Any]:
    """Call /scim/v2 as the identity provider: scim("post", "/Users", {...})."""
    return scim_caller(scim_token)


def scim_caller(token: str | None) -> Callable[..., Any]:
    client = Client()

    def call(method: str, path: str, body: dict | None = None, **query: str) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"/scim/v2{path}"
        if method == "get":
            return client.get(url, query, headers=headers)
        return getattr(client, method)(
            url,
            data=json.dumps(body) if body is not None else "",
            content_type=SCIM_JSON,
            headers=headers,
        )

    return call


def user_payload(email: str, *, name: str = "Robin Example", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": email,
        "name": {"givenName": name.split()[0], "familyName": name.split()[-1]},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
    }
    payload.update(extra)
    return payload


@pytest.fixture
def strict_teardown(aws: None, settings: Any) -> Any:
    """In-process moto behind the strict layer that refuses what AWS refuses (deletion
    order), as offboarding's own tests use it."""
    from tests import strict_iam

    return strict_iam.use_strict_iam(settings)
