"""Setting up MFA for one's IAM user, and the credentials help page.

The set-up page shows the device's seed (as a QR code and as text) while it waits for codes:
it is never cached, and no Referer leaves it."""

from __future__ import annotations

from urllib.parse import quote

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning import aws
from provisioning.credentials.reveal import account_id_of
from provisioning.errors import PortalError
from provisioning.guardrails.forms import MfaCodesForm
from provisioning.guardrails.mfa import (
    MfaCodesRefused,
    MfaNotAllowed,
    mfa_enrolment_enable,
    mfa_enrolment_pending,
    mfa_enrolment_seed,
    mfa_enrolment_start,
)
from provisioning.models import IamAccount

ISSUER = "Amazon Web Services"


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "same-origin"
    return response


def _owned_account(request: AuthenticatedHttpRequest, pk: int) -> IamAccount:
    account = IamAccount.objects.filter(
        pk=pk, owner=request.user, status=IamAccount.Status.ACTIVE
    ).first()
    if account is None:
        raise Http404("There is no such IAM user of yours.")
    return account


def _qr_data_uri(account: IamAccount, seed: str) -> str:
    label = quote(f"{ISSUER}:{account.user_name}@{account_id_of(account)}")
    uri = f"otpauth://totp/{label}?secret={seed}&issuer={quote(ISSUER)}"
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


@login_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: start the set-up, or show the device waiting for codes. POST "start" makes a new
    device; POST with the two codes enables it."""
    account = _owned_account(request, pk)
    form = MfaCodesForm(request.POST or None) if request.POST.get("action") == "enable" else None
    refused = ""
    try:
        if request.method == "POST" and request.POST.get("action") == "start":
            mfa_enrolment_start(actor=request.user, iam_account_id=pk, ip=client_ip(request))
            return redirect("guardrails_mfa", pk=pk)
        if form is not None and form.is_valid():
            mfa_enrolment_enable(
                actor=request.user,
                iam_account_id=pk,
                code_1=form.cleaned_data["code_1"],
                code_2=form.cleaned_data["code_2"],
                ip=client_ip(request),
            )
            messages.success(
                request,
                f"MFA is on for IAM user {account.user_name}. Use your app's code when you sign "
                "in to the AWS console, and with aws sts get-session-token for your access key.",
            )
            return redirect("my_access")
    except MfaCodesRefused as error:
        # New codes are needed: an empty form, with AWS's answer above it.
        form, refused = MfaCodesForm(), str(error)
    except MfaNotAllowed as error:
        messages.error(request, str(error))
        return redirect("my_access")
    except PortalError as error:
        messages.error(request, str(error))
    enrolment = mfa_enrolment_pending(actor=request.user, iam_account_id=pk)
    context: dict[str, object] = {
        "account": account,
        "enrolment": enrolment,
        "form": form or MfaCodesForm(),
        "refused": refused,
    }
    if enrolment is not None:
        seed = mfa_enrolment_seed(enrolment)
        context.update(seed=seed, qr=_qr_data_uri(account, seed))
    return _private(render(request, "guardrails/mfa_setup.html", context))


@login_required
@require_GET
def credentials_help(request: AuthenticatedHttpRequest) -> HttpResponse:
    """How to use an access key under the portal's MFA policy."""
    account = (
        IamAccount.objects.filter(owner=request.user, status=IamAccount.Status.ACTIVE)
        .order_by("created_at")
        .first()
    )
    return render(
        request,
        "guardrails/credentials_help.html",
        {
            "account": account,
            "account_id": account_id_of(account) if account else "ACCOUNT-ID",
            "policy_name": aws.MFA_POLICY_NAME,
            "user_name": account.user_name if account else "YOUR-IAM-USER",
            "overlap_days": settings.KEY_ROTATION_OVERLAP_DAYS,
        },
    )
