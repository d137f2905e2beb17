from __future__ import annotations

import io
import json
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.display import audit_rows
from audit.forms import AuditFilterForm
from audit.models import AuditEvent
from audit.selectors import audit_events
from common.csv import SafeWriter
from common.pagination import CappedPaginator

VIEW_AUDIT = "audit.view_audit"


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent] | None]:
    """The form and the matching events; None when the filters are invalid (a bad date
    must never fall back to "everything")."""
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, None
    return form, audit_events(**form.filters()) if form.is_bound else audit_events()


@require_GET
@login_required
@permission_required(VIEW_AUDIT, raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    form, events = _filtered(request)
    asked = request.GET.get("page")
    page = CappedPaginator(events, 50, asked=asked).get_page(asked) if events is not None else None
    rows = audit_rows(page.object_list, has_perm=request.user.has_perm) if page else []
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/audit_log.html",
        {
            "form": form,
            "page_obj": page,
            "rows": rows,
            "querystring_prefix": f"{query.urlencode()}&" if query else "",
            "export_query": query.urlencode(),
        },
    )


# Rows go out in chunks of about this many bytes: one socket write per row would cost the
# server more than writing the row.
_EXPORT_CHUNK_CHARS = 256 * 1024


@require_GET
@login_required
@permission_required(VIEW_AUDIT, raise_exception=True)
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered trail as CSV, streamed so a long trail never sits in memory. Invalid
    filters are refused with the reason, never answered with the whole trail."""
    form, events = _filtered(request)
    if events is None:
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponseBadRequest(
            f"Nothing exported: {problems}", content_type="text/plain; charset=utf-8"
        )
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    header = ["id", "created_at", "actor", "action", "target", "data", "ip", "correlation_id"]

    def chunk() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def rows() -> Iterator[str]:
        writer.writerow([*header, "prev_hash", "hash"])
        yield chunk()
        fields = ("pk", "created_at", "actor_label", "action", "target", "data", "ip")
        rows = events.order_by("id").values_list(*fields, "correlation_id", "prev_hash", "hash")
        # Plain tuples through a server-side cursor: no model per row, memory flat.
        for pk, created_at, actor, action, target, data, ip, *chain in rows.iterator(5000):
            if buffer.tell() >= _EXPORT_CHUNK_CHARS:
                yield chunk()
            writer.writerow(
                [
                    pk,
                    created_at.isoformat(),
                    actor,
                    action,
                    target,
                    json.dumps(data, sort_keys=True),
                    ip or "",
                    *chain,
                ]
            )
        yield chunk()

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response
