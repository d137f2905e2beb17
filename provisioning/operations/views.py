"""The operations page (security admins): failed and stuck requests with a retry button,
credentials that never reached their owner, and re-issuing credentials."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning.credentials.reissue import credential_link_reissue
from provisioning.errors import PortalError
from provisioning.onboarding.sweep import access_request_retry
from provisioning.operations import selectors as selectors_operations

REQUESTS_PER_PAGE = 25
LINKS_PER_PAGE = 25


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_GET
def operations(request: AuthenticatedHttpRequest) -> HttpResponse:
    requests_page = Paginator(
        selectors_operations.requests_needing_attention(), REQUESTS_PER_PAGE
    ).get_page(request.GET.get("page"))
    links_page = Paginator(
        selectors_operations.uncollected_credential_links(), LINKS_PER_PAGE
    ).get_page(request.GET.get("links_page"))
    query = request.GET.get("q", "")
    return render(
        request,
        "provisioning/operations.html",
        {
            "page_obj": requests_page,
            "links_page": links_page,
            "query": query,
            "accounts": selectors_operations.iam_accounts_matching(query),
            "stale_minutes": settings.PROVISIONING_STALE_SECONDS // 60,
        },
    )


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_POST
def operations_retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        access_request_retry(access_request_id=pk, actor=request.user, ip=client_ip(request))
    except PortalError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Request #{pk} is queued for provisioning again.")
    return redirect("operations")


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_POST
def operations_reissue(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        link = credential_link_reissue(iam_account_id=pk, actor=request.user, ip=client_ip(request))
    except PortalError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"New credentials for {link.iam_account.user_name} were emailed to "
            f"{link.recipient.email}; the old link no longer works.",
        )
    return redirect("operations")
