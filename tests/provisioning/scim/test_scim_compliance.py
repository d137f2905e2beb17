"""scim2-tester's compliance checks (RFC 7643/7644) against /scim/v2, through Django's own
WSGI handler in the test process."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
import scim2_tester.filling as filling
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from tests.factories import UserFactory


@pytest.fixture
def policy_aware_filler(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    """The random filler knows nothing of the portal's rules, which it cannot guess from the
    schema: people are at the organisation's domain, a manager is a person already here,
    and a leaver is not brought back. Everything else stays random."""
    managers = [str(UserFactory(email=f"boss{n}@example.com").pk) for n in range(3)]
    original = filling.get_random_example_value

    def is_email(path: Any) -> bool:
        binding = path.resolve()
        model = binding.target_model if binding else None
        field = binding.target_field_name if binding else ""
        return field == "value" and model is not None and "email" in model.__name__.lower()

    def example(path: Any) -> Any:
        name = str(path)
        if name.endswith(("userName", "emails.value")) or is_email(path):
            return f"scim-{uuid.uuid4().hex[:12]}@example.com"
        if name.endswith("manager.value"):
            return random.choice(managers)
        if name.endswith("active"):
            return True
        return original(path)

    monkeypatch.setattr(filling, "get_random_example_value", example)


@pytest.fixture
def wsgi_app() -> Any:
    """Django's WSGI handler, keeping the test's database connection (and transaction)
    open between requests, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_scim_endpoint_passes_scim2_testers_compliance_checks(
    scim_token: str, policy_aware_filler: None, wsgi_app: Any
) -> None:
    client = WSGISCIMClient(
        wsgi_app,
        base_url="http://testserver/scim/v2",
        headers={"Authorization": f"Bearer {scim_token}"},
    )
    results = check_server(client, raise_exceptions=False)
    failed = [
        f"{result.title}: {result.reason}"
        for result in results
        if result.status in (Status.ERROR, Status.CRITICAL)
    ]
    assert not failed, "\n".join(failed)
    passed = [result for result in results if result.status == Status.SUCCESS]
    # Discovery, and create / read / replace / patch / delete of Users, all ran.
    assert len(passed) >= 20, [result.title for result in results]
