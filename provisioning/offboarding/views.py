"""Offboarding, for HR: the confirm page with the blast radius, the result with its report,
and the report as JSON and CSV."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from common.http import client_ip
from common.time import when
from provisioning.errors import OffboardingError
from provisioning.models import Offboarding
from provisioning.offboarding.forms import DeclineForm, OffboardForm
from provisioning.offboarding.report import (
    offboarding_report_csv,
    offboarding_report_json,
    report_accounts,
)
from provisioning.offboarding.schedule import (
    offboarding_schedule,
    offboarding_schedule_cancel,
    runs_at,
)
from provisioning.offboarding.selectors import (
    OFFBOARDINGS_PER_PAGE,
    access_for_person,
    latest_offboarding_of,
    offboarding_blast_radius,
    offboarding_get,
    offboarding_scheduled_for,
    offboardings_finished,
    offboardings_scheduled,
)
from provisioning.offboarding.start import (
    is_last_security_admin,
    is_privileged_leaver,
    offboarding_confirm,
    offboarding_decline,
    offboarding_start,
)
from provisioning.offboarding.teardown import STEPS


def _require_offboarder(request: AuthenticatedHttpRequest) -> None:
    if not request.user.has_perm(roles.OFFBOARD_PEOPLE):
        raise PermissionDenied("Only HR can offboard people.")


def _get_offboarding_for_viewer(request: AuthenticatedHttpRequest, pk: int) -> Offboarding:
    # HR, who start them, and auditors (security admins among them), who check the evidence.
    if not (
        request.user.has_perm(roles.OFFBOARD_PEOPLE) or request.user.has_perm(roles.VIEW_AUDIT)
    ):
        raise PermissionDenied("Only HR and auditors can see offboarding reports.")
    return offboarding_get(pk)


@login_required
@require_http_methods(["GET", "POST"])
def offboard_person(request: AuthenticatedHttpRequest, person_id: int) -> HttpResponse:
    """GET: what offboarding this person will end, read live from AWS. POST: do it."""
    _require_offboarder(request)
    person = get_object_or_404(User.objects.select_related("manager"), pk=person_id)
    if person.pk == request.user.pk:
        raise PermissionDenied("You cannot offboard yourself: ask another HR person.")
    form = OffboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and form.cleaned_data["when"] == "scheduled":
        return _schedule(request, person, form)
    if request.method == "POST" and form.is_valid():
        try:
            offboarding = offboarding_start(
                actor=request.user,
                person=person,
                mode=form.cleaned_data["mode"],
                ip=client_ip(request),
            )
        except OffboardingError as error:
            messages.error(request, str(error))
            return redirect("offboard_person", person_id=person.pk)
        if offboarding.status == Offboarding.Status.AWAITING_CONFIRMATION:
            messages.info(
                request,
                f"{person} holds a privileged role: a security admin other than you must "
                "confirm this offboarding. They have been emailed; nothing is cut until then.",
            )
            return redirect("offboarding_detail", pk=offboarding.pk)
        messages.success(
            request,
            f"{person} can no longer sign in to the portal and has been signed out. "
            "Their IAM users are being torn down now; this page follows it.",
        )
        moved = offboarding.report["portal"]["reports_moved"]
        if moved:
            messages.warning(
                request,
                f"{len(moved)} of their reports now report to "
                f"{person.manager or 'no one'} and need a permanent manager.",
            )
        return redirect("offboarding_detail", pk=offboarding.pk)
    return render(
        request,
        "provisioning/offboarding/confirm.html",
        {
            "person": person,
            "form": form,
            "radius": offboarding_blast_radius(person=person),
            "privileged": is_privileged_leaver(person),
            "last_security_admin": is_last_security_admin(person),
            "scheduled": offboarding_scheduled_for(person),
        },
    )


def _schedule(request: AuthenticatedHttpRequest, person: User, form: OffboardForm) -> HttpResponse:
    day = form.cleaned_data["last_working_day"]
    try:
        offboarding_schedule(
            actor=request.user,
            person=person,
            last_working_day=day,
            mode=form.cleaned_data["mode"],
            ip=client_ip(request),
        )
    except OffboardingError as error:
        messages.error(request, str(error))
        return redirect("offboard_person", person_id=person.pk)
    confirm = (
        " A security admin will then be asked to confirm it."
        if is_privileged_leaver(person)
        else ""
    )
    messages.success(
        request,
        f"{person}'s offboarding is scheduled: it starts at {when(runs_at(day))}, at the end of "
        f"their last working day. HR is reminded the day before.{confirm}",
    )
    return redirect("person_detail", pk=person.pk)


@login_required
@require_POST
def offboarding_schedule_cancel_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    _require_offboarder(request)
    try:
        schedule = offboarding_schedule_cancel(
            actor=request.user, schedule_id=pk, ip=client_ip(request)
        )
    except OffboardingError as error:
        messages.error(request, str(error))
        return redirect("offboardings")
    messages.success(request, f"Cancelled: {schedule.person} will not be offboarded then.")
    return redirect("person_detail", pk=schedule.person_id)


@login_required
@require_GET
def offboardings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Scheduled offboardings, then past ones (newest first, searchable), each with its
    report: for HR and auditors, who see the reports."""
    if not (
        request.user.has_perm(roles.OFFBOARD_PEOPLE) or request.user.has_perm(roles.VIEW_AUDIT)
    ):
        raise PermissionDenied("Only HR and auditors can see offboardings.")
    query = request.GET.get("q", "").strip()[:200]
    page = Paginator(offboardings_finished(query=query), OFFBOARDINGS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "provisioning/offboarding/list.html",
        {
            "page_obj": page,
            "query": query,
            "scheduled": offboardings_scheduled(),
            "may_cancel": request.user.has_perm(roles.OFFBOARD_PEOPLE),
            "querystring_prefix": urlencode({"q": query}) + "&" if query else "",
        },
    )


@login_required
@require_GET
def offboarding_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    offboarding = _get_offboarding_for_viewer(request, pk)
    context = {
        "offboarding": offboarding,
        "person": offboarding.person,
        "may_confirm": offboarding.status == Offboarding.Status.AWAITING_CONFIRMATION
        and roles.is_security_admin(request.user)
        and request.user.pk not in (offboarding.person_id, offboarding.started_by_id),
        "decline_form": DeclineForm(),
        "portal": offboarding.report.get("portal", {}),
        "accounts": report_accounts(offboarding.report),
        "running": offboarding.status
        in (Offboarding.Status.PENDING, Offboarding.Status.IN_PROGRESS),
        "steps_done": len(offboarding.steps_done),
        "steps_per_user": len(STEPS),
    }
    # htmx polls the status block while the worker is busy.
    template = "_status.html" if request.htmx else "detail.html"
    return render(request, f"provisioning/offboarding/{template}", context)


@login_required
@require_GET
def offboarding_report_json_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    offboarding = _get_offboarding_for_viewer(request, pk)
    response = HttpResponse(
        offboarding_report_json(offboarding=offboarding), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="offboarding-{pk}.json"'
    return response


@login_required
@require_GET
def offboarding_report_csv_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    offboarding = _get_offboarding_for_viewer(request, pk)
    response = HttpResponse(
        offboarding_report_csv(offboarding=offboarding), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="offboarding-{pk}.csv"'
    return response


@login_required
@require_GET
def person_access(request: AuthenticatedHttpRequest, person_id: int) -> HttpResponse:
    """HR's panel on a person's page: their IAM users and role-groups, their latest
    offboarding and the Offboard button. The people page (accounts, which knows nothing of
    provisioning) loads it with htmx; without JavaScript it is a page of its own."""
    if not request.user.has_perm(roles.MANAGE_PEOPLE):
        raise PermissionDenied("Only HR can see a person's access.")
    person = get_object_or_404(User, pk=person_id)
    context = {
        "person": person,
        "iam_accounts": access_for_person(person),
        "latest": latest_offboarding_of(person),
        "scheduled": offboarding_scheduled_for(person),
    }
    template = "_person_access.html" if request.htmx else "person_access.html"
    return render(request, f"provisioning/offboarding/{template}", context)


@login_required
@require_POST
def offboarding_confirm_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A security admin confirms HR's offboarding of a privileged person."""
    if not roles.is_security_admin(request.user):
        raise PermissionDenied("Only a security admin confirms a privileged offboarding.")
    try:
        offboarding = offboarding_confirm(
            offboarding_id=pk, actor=request.user, ip=client_ip(request)
        )
    except OffboardingError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Confirmed: {offboarding.person} can no longer sign in, and their IAM users are "
            "being torn down now.",
        )
    return redirect("offboarding_detail", pk=pk)


@login_required
@require_POST
def offboarding_decline_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    if not roles.is_security_admin(request.user):
        raise PermissionDenied("Only a security admin declines a privileged offboarding.")
    form = DeclineForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("offboarding_detail", pk=pk)
    try:
        offboarding_decline(
            offboarding_id=pk,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            ip=client_ip(request),
        )
    except OffboardingError as error:
        messages.error(request, str(error))
    else:
        messages.info(request, "Declined: nothing was cut, and HR is told why.")
    return redirect("offboarding_detail", pk=pk)
