from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import roles


@login_required
def my_access(request: HttpRequest) -> HttpResponse:
    return render(request, "provisioning/my_access.html", {})


@login_required
def request_access(request: HttpRequest) -> HttpResponse:
    return render(request, "provisioning/request_access.html", {})


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    if not (roles.is_manager(request.user) or roles.is_security_admin(request.user)):
        raise PermissionDenied("Only managers and security admins decide on requests.")
    return render(request, "provisioning/approvals.html", {})


@login_required
@permission_required(roles.OPERATE_PROVISIONING, raise_exception=True)
def operations(request: HttpRequest) -> HttpResponse:
    return render(request, "provisioning/operations.html", {})
