"""Security admins: the account's CIS score with its history, "Check now", and setting the
CIS password policy (with a confirm step)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning import aws
from provisioning.errors import PortalError
from provisioning.guardrails.jobs import guardrail_run_request
from provisioning.guardrails.models import GuardrailRun
from provisioning.guardrails.password_policy import password_policy_current, password_policy_set_cis
from provisioning.guardrails.selectors import latest_run, latest_snapshot, score_chart


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_GET
def compliance(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request,
        "guardrails/compliance.html",
        {
            "snapshot": latest_snapshot(),
            "chart": score_chart(),
            "last_run": latest_run(GuardrailRun.Job.COMPLIANCE),
        },
    )


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_POST
def compliance_check_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        guardrail_run_request(actor=request.user, job=GuardrailRun.Job.COMPLIANCE)
    except PortalError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The check is running: reload this page in a few seconds.")
    return redirect("guardrails_compliance")


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
@require_http_methods(["GET", "POST"])
def password_policy(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: the current policy beside the CIS values (read live, one short attempt). POST: set."""
    if request.method == "POST":
        try:
            password_policy_set_cis(actor=request.user, ip=client_ip(request))
        except PortalError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                "The account's password policy now has the CIS values. Check now to "
                "see the score change.",
            )
        return redirect("guardrails_compliance")
    problem = ""
    try:
        current = password_policy_current()
    except aws.AwsError as failure:
        current, problem = None, failure.message or failure.code
    rows = [
        (name, (current or {}).get(name, "—") if current is not None else "—", wanted)
        for name, wanted in aws.CIS_PASSWORD_POLICY.items()
    ]
    return render(
        request,
        "guardrails/password_policy.html",
        {"rows": rows, "has_policy": current is not None, "error": problem},
    )
