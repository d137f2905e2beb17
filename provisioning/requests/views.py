"""Access requests: asking (with a review step), "My access", and the approvals dashboard."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from common.pagination import ShortListPaginator
from provisioning.catalogue.selectors import role_groups_offered
from provisioning.errors import AlreadyDecided, DecisionNotAllowed, ExtensionOffered, PortalError
from provisioning.guardrails.selectors import with_credentials
from provisioning.lifecycle.grant_views import extension_offer
from provisioning.models import AccessRequest, IamAccount
from provisioning.requests import selectors
from provisioning.requests.cancel import access_request_cancel
from provisioning.requests.decisions import (
    access_request_decision_stage,
    access_request_reject,
    access_requests_approve_bulk,
    access_requests_reject_bulk,
)
from provisioning.requests.forms import AccessRequestForm, BulkDecisionForm, RejectForm
from provisioning.requests.plan import PlanChanged, RequestPlan, access_request_plan
from provisioning.requests.submit import access_request_submit

REQUESTS_PER_PAGE = 25
# Oldest first: the most urgent on the first page; "select every request on this page" and
# one decision covers them. Twenty-five rows render in a quarter of a hundred's time.
PENDING_PER_PAGE = 25
DECISIONS_PER_PAGE = 50
RECENT_DECISIONS = 10


# --- My access ------------------------------------------------------------------------------


def _my_access_context(request: AuthenticatedHttpRequest) -> dict[str, Any]:
    """Everything on My access: the page and its live refreshes show the same."""
    now = timezone.now()
    person = request.user
    asked = request.GET.get("page")
    page = ShortListPaginator(
        selectors.requests_of(person, now=now), REQUESTS_PER_PAGE, asked=asked
    ).get_page(asked)
    # One read of the person's IAM users for both of the page's sections: their role-groups
    # (every user not deleted) and the credentials of the live ones.
    iam_accounts = list(with_credentials(selectors.iam_accounts_of(person)))
    links = list(selectors.pending_credential_links_of(person, now=now))
    if page.paginator.num_pages == 1:  # every request of theirs is on this page: no query
        watch = selectors.my_access_watch_seconds_of_shown(
            list(page.object_list), links, iam_accounts
        )
    else:
        watch = selectors.my_access_watch_seconds(person, now=now)
    return {
        "page_obj": page,
        "watch_seconds": watch,
        "iam_accounts": iam_accounts,
        "credential_links": links,
        "accounts": [a for a in iam_accounts if a.status == IamAccount.Status.ACTIVE],
        "now": now,
        "max_age_days": settings.KEY_MAX_AGE_DAYS,
    }


@login_required
@require_GET
def my_access(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "provisioning/my_access.html", _my_access_context(request))


@login_required
@require_GET
def my_access_live(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The live part of My access, which the page fetches and morphs into place (so focus and
    the reading position stay), with the next poller: none once nothing can change by itself."""
    return render(request, "provisioning/_my_access_live.html", _my_access_context(request))


@login_required
@require_POST
def access_request_cancel_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        access_request_cancel(access_request_id=pk, actor=request.user, ip=client_ip(request))
    except PortalError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Request #{pk} is cancelled.")
    return redirect("my_access")


# --- Asking for access ----------------------------------------------------------------------


def _plan_kwargs(form: AccessRequestForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "access_type": data["access_type"],
        "justification": data["justification"],
        "role_group": data["role_group"],
        "colleague": data["same_as"],
        "end_date": data["end_date"],
    }


def _render_form(
    request: AuthenticatedHttpRequest, form: AccessRequestForm, account: Any
) -> HttpResponse:
    return render(
        request,
        "provisioning/request_access.html",
        {
            "form": form,
            "iam_account": account,
            "role_groups": role_groups_offered().filter(temporary_only=False),
            "first_stage": selectors.first_stage_route(request.user),
        },
    )


def _render_review(
    request: AuthenticatedHttpRequest, form: AccessRequestForm, plan: RequestPlan
) -> HttpResponse:
    return render(
        request,
        "provisioning/request_review.html",
        {"form": form, "plan": plan, "digest": plan.digest()},
    )


def _request_form(
    request: AuthenticatedHttpRequest, data: Any, account: IamAccount | None
) -> AccessRequestForm:
    return AccessRequestForm(
        data,
        requester=request.user,
        has_iam_user=account is not None,
        current_access_type=selectors.current_access_type(request.user) if account else "",
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_access(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Two steps: `step=review` shows exactly what will be created, with the answers carried in
    hidden fields; `step=confirm` validates everything again and sends. Anything else (or GET)
    shows the form."""
    account = selectors.live_iam_account_of(request.user)
    step = request.POST.get("step", "")
    if request.method == "GET" or step not in {"review", "confirm"}:
        form = _request_form(request, request.POST or None, account)
        if request.method == "POST":
            form.full_clean()  # "Back" from the review: show the answers as they were.
        return _render_form(request, form, account)
    form = _request_form(request, request.POST, account)
    if not form.is_valid():
        return _render_form(request, form, account)
    try:
        if step == "review":
            return _render_review(
                request, form, access_request_plan(requester=request.user, **_plan_kwargs(form))
            )
        created = access_request_submit(
            requester=request.user,
            reviewed_digest=request.POST.get("digest", ""),
            ip=client_ip(request),
            **_plan_kwargs(form),
        )
    except PlanChanged as changed:
        messages.warning(request, str(changed))
        return _render_review(request, form, changed.plan)
    except ExtensionOffered as offered:
        return extension_offer(request, offered)
    except PortalError as error:
        form.add_error(None, str(error))
        return _render_form(request, form, account)
    first = created[0]
    sent = f"Request #{first.pk}" if len(created) == 1 else f"{len(created)} requests"
    if first.first_approver is not None:
        messages.success(request, f"{sent} sent to {first.first_approver} for approval.")
    elif first.route == AccessRequest.Route.NO_MANAGER:
        messages.warning(
            request,
            f"{sent} sent. You have no manager in the portal, so the security admins will "
            "decide instead. Ask HR to set your manager.",
        )
    else:
        messages.info(request, f"{sent} sent to {first.get_route_display()}.")
    return redirect("my_access")


# --- The approvals dashboard ----------------------------------------------------------------


def _require_approver(request: AuthenticatedHttpRequest) -> None:
    if not (roles.is_manager(request.user) or roles.is_security_admin(request.user)):
        raise PermissionDenied("Only managers and security admins decide on requests.")


@login_required
@require_GET
def approvals(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_approver(request)
    asked = request.GET.get("page")
    page = ShortListPaginator(
        selectors.requests_awaiting_decision_by(request.user), PENDING_PER_PAGE, asked=asked
    ).get_page(asked)
    page.object_list = list(page.object_list)
    selectors.attach_holdings(page.object_list)
    # The nav's count is the paginator's: counted once.
    waiting = page.paginator.count
    request.approvals_waiting = waiting  # type: ignore[attr-defined]  # read by the nav
    return render(
        request,
        "provisioning/approvals.html",
        {
            "page_obj": page,
            "decisions": selectors.decisions_by(request.user)[:RECENT_DECISIONS],
            "bulk_form": BulkDecisionForm(),
            "is_security_admin": roles.is_security_admin(request.user),
        },
    )


@login_required
@require_GET
def approvals_history(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_approver(request)
    page = Paginator(selectors.decisions_by(request.user), DECISIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "provisioning/approvals_history.html", {"page_obj": page})


@login_required
@require_POST
def approvals_decide(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Approve one row, or approve / reject (with one reason) every ticked row."""
    _require_approver(request)
    form = BulkDecisionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("approvals")
    data = form.cleaned_data
    try:
        if data["action"] == "approve":
            outcome = access_requests_approve_bulk(
                access_request_ids=data["request_ids"], actor=request.user, ip=client_ip(request)
            )
        else:
            outcome = access_requests_reject_bulk(
                access_request_ids=data["request_ids"],
                actor=request.user,
                reason=data["reason"],
                ip=client_ip(request),
            )
    except PortalError as error:
        messages.error(request, str(error))
        return redirect("approvals")
    if outcome.decided:
        done = ", ".join(f"#{r.pk}" for r in outcome.decided)
        verb = "Approved" if data["action"] == "approve" else "Rejected"
        messages.success(request, f"{verb} {done}.")
    for refusal in outcome.refused:
        messages.error(request, refusal)
    return redirect("approvals")


def _get_request_for_approver(request: AuthenticatedHttpRequest, pk: int) -> AccessRequest:
    """The request, if this approver may decide it now: 404 if there is none, 403 if not theirs;
    a request decided meanwhile raises AlreadyDecided for the view to say so."""
    access_request = selectors.request_for_decision(pk)
    if access_request is None:
        raise Http404(f"There is no request #{pk}.")
    try:
        access_request_decision_stage(access_request=access_request, actor=request.user)
    except DecisionNotAllowed as error:
        raise PermissionDenied(str(error)) from None
    return access_request


@login_required
@require_http_methods(["GET", "POST"])
def approvals_reject(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One request, rejected with its own reason."""
    _require_approver(request)
    try:
        access_request = _get_request_for_approver(request, pk)
    except AlreadyDecided as error:
        messages.info(request, str(error))
        return redirect("approvals")
    form = RejectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            access_request_reject(
                access_request_id=pk,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                ip=client_ip(request),
            )
        except PortalError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Rejected #{pk}; {access_request.requester} is told why.")
        return redirect("approvals")
    return render(
        request,
        "provisioning/approvals_reject.html",
        {"access_request": access_request, "form": form},
    )
