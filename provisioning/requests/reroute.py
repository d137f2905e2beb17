"""Re-routing undecided requests when the requester's place in the org chart changes.

The first-stage approver is fixed at submission. When HR (or an import, or an offboarding)
gives the requester a new manager, each of their requests still waiting for its first
decision is routed again by the same rule as at submission, with an audit row and an email
to whoever decides it now: never silently."""

from __future__ import annotations

from typing import Any

from django.db import transaction

import audit
from accounts.models import User
from provisioning.models import AccessRequest
from provisioning.requests import notifications, selectors


def access_requests_reroute(
    *, people: list[User], actor: User | None, ip: str | None = None
) -> list[AccessRequest]:
    """Route again the pending requests of `people`, in the caller's transaction. Returns the
    requests whose approver changed."""
    pending = (
        AccessRequest.objects.select_for_update(of=("self",))
        .filter(requester__in=[person.pk for person in people], status=AccessRequest.Status.PENDING)
        .select_related("requester__manager", "requester__placed_by", "first_approver")
        .select_related("role_group")
        .order_by("pk")
    )
    rerouted = []
    for access_request in pending:
        stage = selectors.first_stage_route(access_request.requester)
        previous = access_request.first_approver
        if (stage.approver, stage.route) == (previous, access_request.route):
            continue
        access_request.first_approver = stage.approver
        access_request.route = stage.route
        access_request.save(update_fields=["first_approver", "route", "updated_at"])
        audit.record(
            "request.rerouted",
            actor=actor,
            target=access_request.audit_target,
            subject=access_request.requester_id,
            data={
                "requester": access_request.requester.email,
                "from": previous.email if previous else None,
                "to": stage.approver.email if stage.approver else None,
                "route": stage.route,
            },
            ip=ip,
        )
        transaction.on_commit(
            _rerouted_email(access_request, previous=previous, actor=actor), robust=True
        )
        rerouted.append(access_request)
    return rerouted


def _rerouted_email(
    access_request: AccessRequest, *, previous: User | None, actor: User | None
) -> Any:
    return lambda: notifications.request_rerouted(access_request, previous=previous, actor=actor)


def on_org_chart_changed(
    sender: Any, *, people: list[User], actor: User | None, ip: str | None = None, **_: Any
) -> None:
    """accounts' `org_chart_changed` (connected in ProvisioningConfig.ready)."""
    access_requests_reroute(people=people, actor=actor, ip=ip)
