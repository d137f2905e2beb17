"""The typed request of a signed-in page."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request behind `@login_required`: its user is a person, never anonymous."""

    user: User
    htmx: HtmxDetails
