from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from portal.health import health, readiness
from provisioning.operations.selectors import home_counts


@login_required
@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Each person's home: the figures of every role they have, each a link to act on it."""
    counts = home_counts(request.user)
    for count in counts:
        if count.url_name == "approvals":  # the nav shows the same figure: counted once
            request.approvals_waiting = count.count  # type: ignore[attr-defined]  # read by the nav
    return render(
        request,
        "portal/home.html",
        {"counts": counts, "role_home": roles.home_url_for(request.user)},
    )


def _may_see_health_details(request: HttpRequest) -> bool:
    """A probe holding HEALTHZ_TOKEN, or a signed-in security admin: anyone else learns only
    healthy or not (which part failed tells an attacker what to push on)."""
    token = settings.HEALTHZ_TOKEN
    given = request.headers.get("Authorization", "")
    if token and constant_time_compare(given, f"Bearer {token}"):
        return True
    return roles.is_security_admin(request.user)


def _health_response(request: HttpRequest, ok: bool, report: Mapping[str, object]) -> JsonResponse:
    body: dict[str, object] = {"status": "ok" if ok else "unhealthy"}
    if _may_see_health_details(request):
        body.update(report)
    return JsonResponse(body, status=200 if ok else 503)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, broker and AWS as last checked in the background: one cache read."""
    return _health_response(request, *health())


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Database and broker, probed live from this process (never AWS)."""
    return _health_response(request, *readiness())


def _outbox_files() -> list[Path]:
    folder = settings.EMAIL_OUTBOX_DIR
    if folder is None or not folder.is_dir():
        return []
    return sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)


def _parse(path: Path) -> list[email.message.EmailMessage]:
    # Django's file backend writes each message followed by a line of 79 dashes.
    chunks = path.read_text(errors="replace").split("-" * 79)
    return [
        email.message_from_string(chunk.strip() + "\n", policy=email.policy.default)
        for chunk in chunks
        if chunk.strip()
    ]


@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """The demo's emails, newest first. Only routed in DEBUG with the outbox backend."""
    messages = []
    for path in _outbox_files()[:200]:
        for index, message in enumerate(_parse(path)):
            messages.append({"id": f"{path.stem}.{index}", "message": message})
    return render(request, "portal/outbox.html", {"messages_list": messages})


@require_GET
def outbox_message(request: HttpRequest, name: str) -> HttpResponse:
    stem, _, index = name.rpartition(".")
    path = next((p for p in _outbox_files() if p.stem == stem), None)
    if path is None or not index.isdigit():
        raise Http404("No such message")
    found = _parse(path)
    if int(index) >= len(found):
        raise Http404("No such message")
    message = found[int(index)]
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return render(request, "portal/outbox_message.html", {"message": message, "body": text})


@login_required
def email_managed_by_hr(request: HttpRequest) -> HttpResponse:
    """allauth's email management is off: a person's email is their identity, set by HR."""
    from django.contrib import messages

    messages.info(request, "Your email address is managed by HR. Ask them to change it.")
    return redirect("home")
