"""Security admins: drift findings, "Scan now", and removing, adopting or accepting one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning.errors import PortalError
from provisioning.guardrails.drift_actions import (
    drift_finding_accept,
    drift_finding_adopt,
    drift_finding_remove,
)
from provisioning.guardrails.forms import DriftAcceptForm, DriftAdoptForm
from provisioning.guardrails.jobs import guardrail_run_request
from provisioning.guardrails.models import DriftFinding, GuardrailRun
from provisioning.guardrails.selectors import drift_finding, drift_findings, latest_run

FINDINGS_PER_PAGE = 50


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_GET
def drift(request: AuthenticatedHttpRequest) -> HttpResponse:
    status = request.GET.get("status", DriftFinding.Status.OPEN)
    if status not in DriftFinding.Status.values:
        status = ""
    query = request.GET.get("q", "")
    page = Paginator(drift_findings(status=status, query=query), FINDINGS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "guardrails/drift.html",
        {
            "page_obj": page,
            "status": status,
            "statuses": DriftFinding.Status.choices,
            "query": query,
            "querystring_prefix": f"status={status}&q={query}&",
            "last_scan": latest_run(GuardrailRun.Job.DRIFT),
        },
    )


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_POST
def drift_scan_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        guardrail_run_request(actor=request.user, job=GuardrailRun.Job.DRIFT)
    except PortalError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            "The drift scan is running: reload this page in a few seconds for its findings.",
        )
    return redirect("guardrails_drift")


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_http_methods(["GET", "POST"])
def drift_finding_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One finding with what to do: remove, adopt (an unmanaged user) or accept."""
    finding = drift_finding(pk)
    if finding is None:
        raise Http404("There is no such drift finding.")
    action = request.POST.get("action", "")
    accept_form = DriftAcceptForm(request.POST if action == "accept" else None)
    adopt_form = DriftAdoptForm(request.POST if action == "adopt" else None)
    if request.method == "POST":
        ip = client_ip(request)
        try:
            if action == "remove":
                drift_finding_remove(actor=request.user, finding_id=pk, ip=ip)
                messages.success(request, "Removed from IAM.")
                return redirect("guardrails_drift")
            if action == "accept" and accept_form.is_valid():
                drift_finding_accept(
                    actor=request.user,
                    finding_id=pk,
                    reason=accept_form.cleaned_data["reason"],
                    until=accept_form.cleaned_data["until"],
                    ip=ip,
                )
                messages.success(request, "Accepted; the scan reopens it after that date.")
                return redirect("guardrails_drift")
            if action == "adopt" and adopt_form.is_valid():
                owner = adopt_form.cleaned_data["owner"]
                drift_finding_adopt(actor=request.user, finding_id=pk, owner=owner, ip=ip)
                messages.success(
                    request, f"IAM user {finding.iam_user_name} is now {owner}'s, in the portal."
                )
                return redirect("guardrails_drift")
            if action not in {"remove", "accept", "adopt"}:
                messages.error(request, "Choose remove, adopt or accept.")
        except PortalError as error:
            messages.error(request, str(error))
    return render(
        request,
        "guardrails/drift_finding.html",
        {"finding": finding, "accept_form": accept_form, "adopt_form": adopt_form},
    )
