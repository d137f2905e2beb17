"""The invitation link (set a first password) and HR's "send it again"."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import invitations, roles
from accounts.errors import PeopleError
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from common.http import client_ip


def _invitation_unavailable(request: HttpRequest, uidb64: str) -> HttpResponse:
    """Why the link does not work, as far as the person needs to know."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        pk = None
    person = User.objects.filter(pk=pk).first() if pk is not None else None
    state = "expired"
    if settings.SSO_ONLY:
        state = "sso"
    elif person is not None and person.has_usable_password():
        state = "used"
    return render(
        request,
        "accounts/invitation_unavailable.html",
        {"state": state, "days": settings.INVITATION_LINK_DAYS},
        status=410,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """GET shows the form (a mail scanner opening the link uses nothing); POST sets the
    password, which makes the link stop working."""
    person = None if settings.SSO_ONLY else invitations.person_from_invitation(uidb64, token)
    if person is None:
        return _invitation_unavailable(request, uidb64)
    form = SetPasswordForm(person, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        invitations.invitation_accept(
            person=person, password=form.cleaned_data["new_password1"], ip=client_ip(request)
        )
        messages.success(request, "Your password is set. Sign in with your email and it.")
        return redirect("account_login")
    return render(request, "accounts/invitation_accept.html", {"form": form, "person": person})


@require_POST
@login_required
@permission_required(roles.MANAGE_PEOPLE, raise_exception=True)
def person_invite(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    try:
        invitations.person_invite(actor=request.user, person=person, ip=client_ip(request))
    except PeopleError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Invitation sent to {person.email}. Any earlier link no longer works."
        )
    return redirect("person_detail", pk=person.pk)
