"""Each person's credentials panel on My access (MFA and access keys, with their actions), and
rotating one's access key."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning.errors import PortalError
from provisioning.guardrails.rotation import key_rotation_request
from provisioning.guardrails.selectors import credentials_of


@login_required
@require_GET
def my_credentials(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My access loads this panel with htmx; without JavaScript it is a page of its own."""
    context = {
        "accounts": credentials_of(request.user),
        "now": timezone.now(),
        "max_age_days": settings.KEY_MAX_AGE_DAYS,
    }
    template = "_my_credentials.html" if request.htmx else "my_credentials.html"
    return render(request, f"guardrails/{template}", context)


@login_required
@require_http_methods(["GET", "POST"])
def rotate_key(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: what rotating does (the confirm step). POST: ask for the new key."""
    account = credentials_of(request.user).filter(pk=pk).first()
    if account is None:
        raise Http404("There is no such IAM user of yours.")
    if request.method == "POST":
        try:
            key_rotation_request(actor=request.user, iam_account_id=pk, ip=client_ip(request))
        except PortalError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"A new access key for {account.user_name} is being made: check your email for "
                f"its one-time link. Your current key keeps working for up to "
                f"{settings.KEY_ROTATION_OVERLAP_DAYS} days, until you first use the new one.",
            )
        return redirect("my_access")
    return render(
        request,
        "guardrails/rotate_key.html",
        {"account": account, "overlap_days": settings.KEY_ROTATION_OVERLAP_DAYS},
    )
