"""Grant pages: extend or give up one's own access (from My access), revoke a report's or
anyone's (managers, security admins), and ask for temporary access."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning.errors import ExtensionOffered, PortalError
from provisioning.lifecycle import selectors
from provisioning.lifecycle.elevation import elevation_request
from provisioning.lifecycle.ending import grant_relinquish, grant_revoke
from provisioning.lifecycle.extend import grant_extension_request
from provisioning.lifecycle.grant_forms import ElevationForm, ExtendForm, RevokeForm
from provisioning.models import AccessRequest, Grant
from provisioning.requests.selectors import first_stage_route, live_iam_account_of

GRANTS_PER_PAGE = 50


def _own_grant(request: AuthenticatedHttpRequest, pk: int) -> Grant:
    """The signed-in person's grant; anyone else's does not exist, as far as they know."""
    grant = selectors.grant_for_action(pk)
    if grant is None or grant.iam_account.owner_id != request.user.pk:
        raise Http404(f"There is no grant #{pk}.")
    return grant


def _sent_message(
    request: AuthenticatedHttpRequest, access_request: AccessRequest, what: str
) -> None:
    if access_request.first_approver is not None:
        messages.success(
            request,
            f"Request #{access_request.pk} ({what}) sent to {access_request.first_approver}.",
        )
    else:
        messages.info(
            request,
            f"Request #{access_request.pk} ({what}) sent to {access_request.get_route_display()}.",
        )


def render_extend(
    request: AuthenticatedHttpRequest, grant: Grant, form: ExtendForm, *, offered: str = ""
) -> HttpResponse:
    return render(
        request,
        "provisioning/lifecycle/grant_extend.html",
        {
            "grant": grant,
            "form": form,
            "offered": offered,
            "first_stage": first_stage_route(request.user),
            "open_request": grant.extension_requests.filter(
                status__in=AccessRequest.OPEN_STATUSES
            ).first(),
        },
    )


def extension_offer(request: AuthenticatedHttpRequest, offered: ExtensionOffered) -> HttpResponse:
    """A request for a role-group held until an end date: the extension form instead, with
    what was typed carried over."""
    grant = _own_grant(request, offered.grant_id)
    initial = {"justification": request.POST.get("justification", "")}
    for name in ("end_date", "duration_hours"):
        if request.POST.get(name):
            initial[name] = request.POST[name]
    return render_extend(
        request, grant, ExtendForm(grant=grant, initial=initial), offered=str(offered)
    )


@login_required
@require_http_methods(["GET", "POST"])
def grant_extend(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    grant = _own_grant(request, pk)
    form = ExtendForm(request.POST or None, grant=grant)
    if request.method == "POST" and form.is_valid():
        try:
            created = grant_extension_request(
                grant_id=grant.pk,
                requester=request.user,
                justification=form.cleaned_data["justification"],
                end_date=form.cleaned_data.get("end_date"),
                duration_hours=form.cleaned_data.get("duration_hours"),
                ip=client_ip(request),
            )
        except PortalError as error:
            form.add_error(None, str(error))
        else:
            _sent_message(request, created, f"extend {grant.role_group.name}")
            return redirect("my_access")
    return render_extend(request, grant, form)


@login_required
@require_http_methods(["GET", "POST"])
def grant_relinquish_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    grant = _own_grant(request, pk)
    if request.method == "POST":
        try:
            grant_relinquish(grant_id=grant.pk, actor=request.user, ip=client_ip(request))
        except PortalError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"You gave up {grant.role_group.name}: it is being removed from your IAM user "
                f"{grant.iam_account.user_name} now.",
            )
        return redirect("my_access")
    return render(request, "provisioning/lifecycle/grant_relinquish.html", {"grant": grant})


def _require_revoker(request: AuthenticatedHttpRequest) -> None:
    if not (roles.is_manager(request.user) or roles.is_security_admin(request.user)):
        raise PermissionDenied("Only managers and security admins revoke access.")


@login_required
@require_http_methods(["GET", "POST"])
def grant_revoke_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    _require_revoker(request)
    grant = selectors.grant_for_action(pk)
    if grant is None:
        raise Http404(f"There is no grant #{pk}.")
    if not selectors.may_revoke(request.user, grant):
        raise PermissionDenied("Only the holder's manager or a security admin can revoke this.")
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant_revoke(
                grant_id=grant.pk,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                ip=client_ip(request),
            )
        except PortalError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"Revoked {grant.iam_account.owner}'s {grant.role_group.name}: it is being "
                "removed from AWS now, and they are told why.",
            )
        return redirect("grants_held")
    return render(
        request, "provisioning/lifecycle/grant_revoke.html", {"grant": grant, "form": form}
    )


@login_required
@require_GET
def grants_held(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Live grants the viewer may revoke: their reports' (managers), everyone's (security)."""
    _require_revoker(request)
    query = request.GET.get("q", "").strip()[:200]
    page = Paginator(
        selectors.grants_revocable_by(request.user, query=query), GRANTS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "provisioning/lifecycle/grants_held.html",
        {
            "page_obj": page,
            "query": query,
            "querystring_prefix": urlencode({"q": query}) + "&" if query else "",
            "everyone": roles.is_security_admin(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_elevation(request: AuthenticatedHttpRequest) -> HttpResponse:
    account = live_iam_account_of(request.user)
    form = ElevationForm(request.POST or None, has_iam_user=account is not None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = elevation_request(
                requester=request.user,
                role_group=data["role_group"],
                duration_hours=data["duration_hours"],
                justification=data["justification"],
                access_type=data.get("access_type") or None,
                ip=client_ip(request),
            )
        except ExtensionOffered as offered:
            return extension_offer(request, offered)
        except PortalError as error:
            form.add_error(None, str(error))
        else:
            _sent_message(
                request,
                created,
                f"{data['role_group'].name} for {data['duration_hours']} hours, from approval",
            )
            return redirect("my_access")
    return render(
        request,
        "provisioning/lifecycle/request_elevation.html",
        {
            "form": form,
            "iam_account": account,
            "role_groups": selectors.temporary_role_groups(),
            "first_stage": first_stage_route(request.user),
        },
    )
