from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import roles


@login_required
@permission_required(roles.MANAGE_CATALOGUE, raise_exception=True)
def catalogue(request: HttpRequest) -> HttpResponse:
    return render(request, "provisioning/catalogue.html", {})
