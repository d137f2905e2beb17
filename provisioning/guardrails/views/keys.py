"""Security admins: the portal's access keys by age, and extending one once with a reason."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning.errors import PortalError
from provisioning.guardrails.forms import ReasonForm
from provisioning.guardrails.key_age import key_age_extend
from provisioning.guardrails.selectors import keys_for_review

KEYS_PER_PAGE = 50


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_GET
def access_keys(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    now = timezone.now()
    first_reminder = min(settings.KEY_AGE_REMINDER_DAYS, default=0)
    page = Paginator(keys_for_review(query), KEYS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "guardrails/keys.html",
        {
            "page_obj": page,
            "query": query,
            "querystring_prefix": f"q={query}&" if query else "",
            "now": now,
            # Keys this old may be extended (younger ones have time to be rotated).
            "extendable_before": now - timedelta(days=first_reminder),
            "max_age_days": settings.KEY_MAX_AGE_DAYS,
            "first_reminder": first_reminder,
            "extension_days": settings.KEY_AGE_EXTENSION_DAYS,
            "form": ReasonForm(),
        },
    )


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_POST
def access_key_extend(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("guardrails_keys")
    try:
        extension = key_age_extend(
            actor=request.user,
            access_key_record_id=pk,
            reason=form.cleaned_data["reason"],
            ip=client_ip(request),
        )
    except PortalError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Access key {extension.access_key_id} may live {extension.days} days longer.",
        )
    return redirect("guardrails_keys")
