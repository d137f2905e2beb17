from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from accounts import roles
from accounts.models import User
from provisioning.requests.selectors import approvals_waiting_count
from provisioning.scim.selectors import leaver_notices_open


def _approvals_waiting(request: HttpRequest, user: User) -> int:
    counted: int | None = getattr(request, "approvals_waiting", None)  # by the page, already
    return approvals_waiting_count(user) if counted is None else counted


def portal(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    nav = roles.navigation_for(user) if user is not None else {}
    return {
        "demo_fake_aws": settings.AWS_IS_LOCAL_FAKE,
        "aws_endpoint_url": settings.AWS_ENDPOINT_URL,
        "outbox_enabled": settings.DEBUG and settings.EMAIL_OUTBOX_DIR is not None,
        "nav": nav,
        # HR's banner: leavers the identity provider announced, still to confirm. A callable,
        # so the one query runs only where base.html shows it (not for htmx fragments).
        "idp_leavers_open": (lambda: leaver_notices_open().count()) if nav.get("hr") else 0,
        # The approvers' waiting count beside "Approvals", on every page (one query, lazily;
        # none on the dashboard, which has counted them already).
        "approvals_waiting": (
            (lambda: _approvals_waiting(request, user))
            if isinstance(user, User) and (nav.get("manager") or nav.get("security"))
            else 0
        ),
        "time_zone": settings.TIME_ZONE,
    }
