from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from accounts import people_import as people_import_service
from accounts import roles, selectors, services
from accounts.errors import ImportRejected, PeopleError
from accounts.forms import (
    IMPORT_MAX_BYTES,
    PeopleImportForm,
    PersonCreateForm,
    PersonEditForm,
    PreferencesForm,
)
from accounts.http import AuthenticatedHttpRequest
from accounts.uploads import LimitedUpload
from common.http import client_ip

STATUS_CHOICES = [("", "Everyone"), ("active", "Active"), ("left", "Left")]


@require_GET
@login_required
@permission_required(roles.MANAGE_PEOPLE, raise_exception=True)
def people_directory(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    status = request.GET.get("status", "")
    if status not in selectors.STATUS_FILTERS:
        status = ""
    people = selectors.people_search(query=query, status=status)
    page = Paginator(people, selectors.PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    kept = {key: value for key, value in (("q", query), ("status", status)) if value}
    return render(
        request,
        "accounts/people_directory.html",
        {
            "page_obj": page,
            "query": query,
            "status": status,
            "status_choices": STATUS_CHOICES,
            "querystring_prefix": urlencode(kept) + "&" if kept else "",
        },
    )


@require_GET
@login_required
@permission_required(roles.MANAGE_PEOPLE, raise_exception=True)
def person_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = selectors.person_for_page(pk)
    return render(
        request,
        "accounts/person_detail.html",
        {
            "person": person,
            "reports": list(person.reports.all()),
            "is_current": selectors.is_current(person),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.MANAGE_PEOPLE, raise_exception=True)
def person_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = selectors.person_for_page(pk)
    form = PersonEditForm(request.POST if request.method == "POST" else None, person=person)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.person_update(
                actor=request.user,
                person=person,
                department=form.cleaned_data["department"],
                manager=form.cleaned_data["manager"],
                ip=client_ip(request),
            )
        except PeopleError as error:
            form.add_error(None, str(error))
        else:
            if changed:
                messages.success(request, f"Saved {person}'s department and manager.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("person_detail", pk=person.pk)
    return render(
        request,
        "accounts/person_edit.html",
        {
            "person": person,
            "form": form,
            "departments": selectors.departments(),
            "manager_choices": selectors.manager_choices(),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(roles.MANAGE_PEOPLE, raise_exception=True)
def person_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """HR adds one person; they are emailed an invitation."""
    form = PersonCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_create(
                actor=request.user,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                department=form.cleaned_data["department"],
                manager=form.cleaned_data["manager"],
                ip=client_ip(request),
            )
        except PeopleError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Added {person}; an invitation is on its way to them.")
            return redirect("person_detail", pk=person.pk)
    return render(
        request,
        "accounts/person_create.html",
        {
            "form": form,
            "departments": selectors.departments(),
            "manager_choices": selectors.manager_choices(),
        },
    )


@csrf_exempt  # only so the upload handler goes in before the body is read: see below
@require_http_methods(["GET", "POST"])
def people_import(request: AuthenticatedHttpRequest) -> HttpResponse:
    # A file over the limit stops being read at the limit, instead of being read whole and
    # then refused. Handlers must be set before anything reads the body, and the CSRF check
    # reads it: so the check runs here, inside, on the limited body.
    limited = LimitedUpload(request, limit=IMPORT_MAX_BYTES)
    request.upload_handlers = [limited, *request.upload_handlers]
    return _people_import(request, limited)


@csrf_protect
@login_required
@permission_required(roles.MANAGE_PEOPLE, raise_exception=True)
def _people_import(request: AuthenticatedHttpRequest, limited: LimitedUpload) -> HttpResponse:
    bound = request.method == "POST"
    form = PeopleImportForm(
        request.POST if bound else None,
        request.FILES if bound else None,
        too_large=limited.exceeded,
    )
    problems = []
    rejection = ""
    if request.method == "POST" and form.is_valid():
        try:
            result = people_import_service.people_import(
                actor=request.user,
                content=form.cleaned_data["file"],
                source=str(getattr(form.files.get("file"), "name", "") or ""),
                ip=client_ip(request),
            )
        except ImportRejected as rejected:
            problems, rejection = rejected.problems, str(rejected)
        except PeopleError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Import done: {result.summary()}")
            return redirect("people_directory")
    return render(
        request,
        "accounts/people_import.html",
        {"form": form, "problems": problems, "rejection": rejection},
        status=400 if problems else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A person's own preferences: how they hear of requests waiting for their decision."""
    form = PreferencesForm(
        request.POST or None, initial={"approval_emails": request.user.approval_emails}
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.preferences_update(
                person=request.user,
                approval_emails=form.cleaned_data["approval_emails"],
                ip=client_ip(request),
            )
        except PeopleError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Saved." if changed else "Nothing changed.")
            return redirect("preferences")
    return render(request, "accounts/preferences.html", {"form": form})
