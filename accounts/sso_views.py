"""Signing out of the identity provider too (RP-initiated logout), offered on the sign-in
page after the portal's own sign-out."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import sso


@require_POST
def sso_logout(request: HttpRequest, provider_id: str) -> HttpResponse:
    """No sign-in needed: the portal's session has ended already. It only sends the browser
    to the provider's own sign-out page, which comes back to the portal's sign-in page."""
    provider = sso.provider(provider_id)
    if provider is None:
        raise Http404("No such identity provider.")
    request.session.pop(sso.SIGNED_OUT_OF_SESSION_KEY, None)
    url = sso.end_session_url(
        provider_id,
        post_logout_redirect_uri=f"{settings.PORTAL_BASE_URL}{reverse('account_login')}",
    )
    if url is None:
        messages.info(
            request,
            f"{provider['name']} does not offer signing out from here: sign out on its own page.",
        )
        return redirect("account_login")
    return redirect(url)
