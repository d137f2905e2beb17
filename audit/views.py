from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.models import AuditEvent


@login_required
@permission_required("audit.view_audit", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    page = Paginator(AuditEvent.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "audit/audit_log.html", {"page_obj": page})
