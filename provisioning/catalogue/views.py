"""The role-group catalogue, for security admins: list, create, edit, sync to AWS."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.http import AuthenticatedHttpRequest
from common.http import client_ip
from provisioning import aws
from provisioning.catalogue.forms import RoleGroupForm
from provisioning.catalogue.selectors import catalogue_last_sync, role_groups_for_catalogue
from provisioning.catalogue.services import catalogue_sync, role_group_create, role_group_update
from provisioning.errors import CatalogueError
from provisioning.models import RoleGroup


@login_required
@permission_required(roles.MANAGE_CATALOGUE, raise_exception=True)
def catalogue(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request,
        "provisioning/catalogue.html",
        {"role_groups": role_groups_for_catalogue(), "last_sync": catalogue_last_sync()},
    )


@login_required
@permission_required(roles.MANAGE_CATALOGUE, raise_exception=True)
def catalogue_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = RoleGroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            role_group = role_group_create(
                actor=request.user, ip=client_ip(request), **form.cleaned_data
            )
        except CatalogueError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"{role_group.name} added. Sync to AWS to create its IAM group.",
            )
            return redirect("catalogue")
    return render(request, "provisioning/catalogue_form.html", {"form": form, "role_group": None})


@login_required
@permission_required(roles.MANAGE_CATALOGUE, raise_exception=True)
def catalogue_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    role_group = get_object_or_404(RoleGroup, pk=pk)
    form = RoleGroupForm(request.POST or None, instance=role_group)
    if request.method == "POST" and form.is_valid():
        try:
            changed = role_group_update(
                actor=request.user,
                role_group=role_group,
                ip=client_ip(request),
                **form.cleaned_data,
            )
        except CatalogueError as error:
            form.add_error(None, str(error))
        else:
            if changed:
                messages.success(
                    request, f"{role_group.name} saved. Sync to AWS to apply it to the IAM group."
                )
            else:
                messages.info(request, f"{role_group.name}: nothing to change.")
            return redirect("catalogue")
    return render(
        request, "provisioning/catalogue_form.html", {"form": form, "role_group": role_group}
    )


@login_required
@permission_required(roles.MANAGE_CATALOGUE, raise_exception=True)
@require_POST
def catalogue_sync_to_aws(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        changes = catalogue_sync(actor=request.user, ip=client_ip(request))
    except aws.AwsError as error:
        messages.error(request, f"Sync stopped: {error}. What was done before that is kept.")
    except CatalogueError as error:
        messages.error(request, str(error))
    else:
        if changes:
            messages.success(request, f"Synced to AWS: {len(changes)} change(s), listed below.")
        else:
            messages.info(request, "Synced to AWS: nothing changed, AWS already matched.")
    return redirect("catalogue")
