"""Of two reveals at the same instant, on two database connections, exactly one wins."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from provisioning.credentials import links
from provisioning.credentials.reveal import RevealedCredentials, credential_link_reveal
from tests.factories import PASSWORD, issued_link


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_two_concurrent_reveals_give_the_credentials_exactly_once(employee: Any) -> None:
    link, url = issued_link(employee)
    token = url.rstrip("/").rsplit("/", 1)[1]
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def reveal() -> None:
        try:
            start.wait(timeout=10)
            outcomes.append(credential_link_reveal(token=token, actor=employee))
        except links.CredentialLinkUnavailable as refused:
            outcomes.append(refused)
        finally:
            connection.close()

    threads = [threading.Thread(target=reveal) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    revealed = [o for o in outcomes if isinstance(o, RevealedCredentials)]
    refused = [o for o in outcomes if isinstance(o, links.CredentialLinkUnavailable)]
    assert len(revealed) == 1 and len(refused) == 1
    assert revealed[0].password == PASSWORD
    assert refused[0].state == "used"
    link.refresh_from_db()
    assert link.sealed_password is None and link.sealed_secret_key is None
