"""The reveal works the way a browser sends it, not just the way Django's test client does.

Browsers attach an Origin header to a form POST, and derive it from the page's referrer
policy: under "no-referrer" they send `Origin: null`, which CSRF protection refuses. Django's
test client sends no Origin at all, so these tests send what Chromium would."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.factories import PASSWORD, issued_link

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"


def _origin_a_browser_sends(referrer_policy: str) -> str:
    # Fetch standard, "serializing a request origin", for a same-origin POST.
    return "null" if referrer_policy == "no-referrer" else ORIGIN


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_the_recipient_reveals_with_the_origin_a_browser_sends(
    employee: Any, settings: Any
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = [ORIGIN]
    _, url = issued_link(employee)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(employee)
    confirm = browser.get(url)
    origin = _origin_a_browser_sends(confirm["Referrer-Policy"])

    revealed = browser.post(
        url,
        {"csrfmiddlewaretoken": _csrf_token(confirm.content.decode())},
        HTTP_ORIGIN=origin,
    )

    assert revealed.status_code == 200, revealed.content.decode()[:300]
    assert PASSWORD in revealed.content.decode()


def test_signing_out_from_the_reveal_page_works_in_a_browser(employee: Any, settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = [ORIGIN]
    _, url = issued_link(employee)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(employee)
    confirm = browser.get(url)
    token = _csrf_token(confirm.content.decode())
    revealed = browser.post(url, {"csrfmiddlewaretoken": token}, HTTP_ORIGIN=ORIGIN)

    signed_out = browser.post(
        "/accounts/logout/",
        {"csrfmiddlewaretoken": _csrf_token(revealed.content.decode())},
        HTTP_ORIGIN=_origin_a_browser_sends(revealed["Referrer-Policy"]),
    )

    assert signed_out.status_code == 302
    assert "_auth_user_id" not in browser.session
