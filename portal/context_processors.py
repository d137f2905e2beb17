from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from accounts import roles


def portal(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "demo_fake_aws": settings.AWS_IS_LOCAL_FAKE,
        "aws_endpoint_url": settings.AWS_ENDPOINT_URL,
        "outbox_enabled": settings.DEBUG and settings.EMAIL_OUTBOX_DIR is not None,
        "nav": roles.navigation_for(user) if user is not None else {},
    }
