"""The one-time credential link: a confirm page (GET), and the credentials once (POST).

A mail scanner that prefetches the link only ever sees the confirm page. Every answer here is
private: never cached, and no Referer carries the token to another site."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning import aws
from provisioning.credentials.links import (
    UNAVAILABLE_MESSAGES,
    CredentialLinkUnavailable,
    link_state,
)
from provisioning.credentials.reveal import (
    account_id_of,
    credential_link_for_recipient,
    credential_link_reveal,
)
from provisioning.errors import CredentialLinkNotFound
from provisioning.guardrails.selectors import mfa_enabled_for

# Not "no-referrer": under it browsers send `Origin: null` with the page's own POSTs (reveal,
# sign out), which CSRF protection rightly refuses. "same-origin" keeps the guarantee that
# matters, no Referer (and so no token) ever leaves for another site, and CSP loads nothing
# from one anyway.
REFERRER_POLICY = "same-origin"


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    response["Referrer-Policy"] = REFERRER_POLICY
    return response


@login_required
@require_http_methods(["GET", "POST"])
def credential_link(request: AuthenticatedHttpRequest, token: str) -> HttpResponse:
    try:
        link = credential_link_for_recipient(token=token, actor=request.user)
    except CredentialLinkNotFound:
        raise Http404("There is no such credential link.") from None
    if request.method == "GET":
        state = link_state(link)
        if state != "ready":
            return _private(_unavailable(request, state))
        return _private(render(request, "provisioning/credential_confirm.html", {"link": link}))
    try:
        revealed = credential_link_reveal(token=token, actor=request.user, ip=client_ip(request))
    except CredentialLinkUnavailable as error:
        return _private(_unavailable(request, error.state))
    return _private(
        render(
            request,
            "provisioning/credential_reveal.html",
            {
                "credentials": revealed,
                "csv_name": f"{revealed.user_name}_credentials.csv",
                # MFA is offered at hand-over (provisioning/guardrails).
                "mfa_url": reverse("guardrails_mfa", args=[link.iam_account_id]),
                "mfa_enabled": mfa_enabled_for(link.iam_account_id),
                "account_id": account_id_of(link.iam_account),
                # Every variable the page reads is given: a missing one makes Django log the
                # whole context (the credentials with it) at DEBUG.
                "policy_name": aws.MFA_POLICY_NAME,
            },
        )
    )


def _unavailable(request: AuthenticatedHttpRequest, state: str) -> HttpResponse:
    return render(
        request,
        "provisioning/credential_unavailable.html",
        {"state": state, "message": UNAVAILABLE_MESSAGES[state]},
        status=410,
    )
