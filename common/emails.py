"""Sending the portal's emails from templates: `templates/emails/<name>.txt`, whose first line
is the subject. Emails carry links, never secrets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


def send_templated_email(name: str, to: Iterable[str], context: dict[str, Any]) -> None:
    recipients = sorted({address for address in to if address})
    if not recipients:
        return
    rendered = render_to_string(
        f"emails/{name}.txt", {"base_url": settings.PORTAL_BASE_URL, **context}
    )
    subject, _, body = rendered.strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", settings.DEFAULT_FROM_EMAIL, recipients)
