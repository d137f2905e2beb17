"""Access review pages: a reviewer's items to keep or revoke; the campaigns, their progress
and their report (security admins start them; auditors read them)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning.errors import PortalError
from provisioning.lifecycle import selectors
from provisioning.lifecycle.review_forms import CampaignForm, DecideForm
from provisioning.lifecycle.review_report import access_review_report_csv
from provisioning.lifecycle.reviews import access_review_start, review_item_decide
from provisioning.models import ReviewItem

ITEMS_PER_PAGE = 25
CAMPAIGN_ITEMS_PER_PAGE = 50
CAMPAIGNS_PER_PAGE = 25


def _query(request: AuthenticatedHttpRequest) -> str:
    return request.GET.get("q", "").strip()[:200]


def _require_evidence_reader(request: AuthenticatedHttpRequest) -> None:
    # Security admins hold the audit permission too.
    if not request.user.has_perm(roles.VIEW_AUDIT):
        raise PermissionDenied("Only security admins and auditors see access reviews.")


@login_required
@require_GET
def my_reviews(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = _query(request)
    page = Paginator(
        selectors.review_items_for(request.user, query=query), ITEMS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "provisioning/lifecycle/my_reviews.html",
        {
            "page_obj": page,
            "query": query,
            "querystring_prefix": urlencode({"q": query}) + "&" if query else "",
            "sees_campaigns": request.user.has_perm(roles.VIEW_AUDIT),
        },
    )


@login_required
@require_POST
def review_item_decide_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    form = DecideForm(request.POST)
    back = reverse("my_reviews")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    data = form.cleaned_data
    if data.get("page"):
        back += f"?page={data['page']}"
    try:
        item = review_item_decide(
            item_id=pk,
            actor=request.user,
            decision=data["decision"],
            reason=data["reason"],
            ip=client_ip(request),
        )
    except PortalError as error:
        messages.error(request, str(error))
        return redirect(back)
    what = f"{item.holder}'s {item.grant.role_group.name}"
    if item.decision == ReviewItem.Decision.KEEP:
        messages.success(request, f"Kept {what}.")
    elif item.decision == ReviewItem.Decision.REVOKE:
        messages.success(request, f"Revoked {what}: it is being removed from AWS now.")
    else:
        messages.info(request, f"{what} had already ended: nothing to decide.")
    return redirect(back)


@login_required
@require_GET
def access_reviews(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_evidence_reader(request)
    page = Paginator(selectors.campaigns(), CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "provisioning/lifecycle/access_reviews.html",
        {"page_obj": page, "may_start": roles.is_security_admin(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def access_review_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not roles.is_security_admin(request.user):
        raise PermissionDenied("Only security admins start access reviews.")
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = access_review_start(
                actor=request.user,
                name=data["name"],
                deadline=data["deadline"],
                at_deadline=data["at_deadline"],
                role_groups=list(data["role_groups"]),
                ip=client_ip(request),
            )
        except PortalError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"“{campaign.name}” started: the reviewers are being emailed now.",
            )
            return redirect("access_review_detail", pk=campaign.pk)
    return render(request, "provisioning/lifecycle/access_review_new.html", {"form": form})


DECISION_FILTERS = {
    "pending": "",
    **{value: value for value in ReviewItem.Decision.values if value},
}


@login_required
@require_GET
def access_review_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    _require_evidence_reader(request)
    campaign = selectors.campaign_get(pk)
    query = _query(request)
    shown = request.GET.get("decision", "")
    decision = DECISION_FILTERS.get(shown)
    page = Paginator(
        selectors.campaign_items(campaign, query=query, decision=decision),
        CAMPAIGN_ITEMS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    kept = {key: value for key, value in (("q", query), ("decision", shown)) if value}
    counts = selectors.campaign_decision_counts(campaign)
    return render(
        request,
        "provisioning/lifecycle/access_review_detail.html",
        {
            "campaign": campaign,
            "page_obj": page,
            "query": query,
            "shown": shown if decision is not None else "",
            "filters": [("pending", "Not reviewed yet")]
            + [(v, label) for v, label in ReviewItem.Decision.choices if v],
            "counts": [
                (label, counts.get(value, 0)) for value, label in ReviewItem.Decision.choices
            ],
            "querystring_prefix": urlencode(kept) + "&" if kept else "",
        },
    )


@login_required
@require_GET
def access_review_report(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Every item, for printing (or saving as PDF from the browser's print dialog)."""
    _require_evidence_reader(request)
    campaign = selectors.campaign_get(pk)
    counts = selectors.campaign_decision_counts(campaign)
    return render(
        request,
        "provisioning/lifecycle/access_review_report.html",
        {
            "campaign": campaign,
            "items": selectors.campaign_items(campaign),
            "counts": [
                (label, counts.get(value, 0)) for value, label in ReviewItem.Decision.choices
            ],
        },
    )


@login_required
@require_GET
def access_review_report_csv_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    _require_evidence_reader(request)
    campaign = selectors.campaign_get(pk)
    response = HttpResponse(
        access_review_report_csv(campaign), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="access-review-{pk}.csv"'
    return response
