"""The SCIM pages: security admins' tokens (made, shown once, revoked), and HR's list of
the people the identity provider says have left."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning.models import ScimToken
from provisioning.scim.forms import ScimTokenForm
from provisioning.scim.selectors import leaver_notices_open, scim_tokens
from provisioning.scim.tokens import ScimTokenError, scim_token_create, scim_token_revoke

TOKENS_PER_PAGE = 50
LEAVERS_PER_PAGE = 50


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
def scim_tokens_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ScimTokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = scim_token_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                ip=client_ip(request),
            )
        except ScimTokenError as error:
            form.add_error(None, str(error))
        else:
            # Shown once, on this response only: never stored, never in a redirect or email.
            response = render(
                request,
                "provisioning/scim/token_created.html",
                {
                    "token": issued.token,
                    "value": issued.value,
                    "base_url": request.build_absolute_uri(
                        reverse("scim_api", kwargs={"path": ""})
                    ).rstrip("/"),
                },
            )
            response["Cache-Control"] = "no-store"
            return response
    page = Paginator(scim_tokens(), TOKENS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "provisioning/scim/tokens.html",
        {"form": form, "page_obj": page, "querystring_prefix": ""},
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
def scim_token_revoke_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ScimToken, pk=pk)
    try:
        revoked = scim_token_revoke(actor=request.user, token=token, ip=client_ip(request))
    except ScimTokenError as error:
        messages.error(request, str(error))
    else:
        if revoked:
            messages.success(request, f"Revoked {token.name}: it no longer works.")
        else:
            messages.info(request, f"{token.name} was revoked already.")
    return redirect("scim_tokens")


@require_GET
@login_required
@permission_required(roles.OFFBOARD_PEOPLE, raise_exception=True)
def idp_leavers(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = Paginator(leaver_notices_open(), LEAVERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "provisioning/scim/leavers.html", {"page_obj": page, "querystring_prefix": ""}
    )
