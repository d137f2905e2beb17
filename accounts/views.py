from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import roles


@login_required
@permission_required(roles.MANAGE_PEOPLE, raise_exception=True)
def people_directory(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/people_directory.html", {})
