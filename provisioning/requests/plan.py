"""Planning a submission: exactly what it will create, refused where the rules say no.

The requester reviews the plan before sending; its digest makes the confirm step refuse
anything other than what was reviewed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User
from provisioning.errors import AlreadyHeld, DuplicateOpenRequest, ExtensionOffered, RequestInvalid
from provisioning.lifecycle import rules
from provisioning.models import AccessRequest, Grant, IamAccount, RoleGroup
from provisioning.requests import selectors
from provisioning.requests.naming import iam_user_name_for, names_taken_except_by

JUSTIFICATION_MIN_LENGTH = 20
JUSTIFICATION_MAX_LENGTH = 1000

AccessType = AccessRequest.AccessType
CONSOLE_TYPES = {AccessType.CONSOLE, AccessType.BOTH}
KEY_TYPES = {AccessType.PROGRAMMATIC, AccessType.BOTH}


@dataclass(frozen=True)
class PlannedRequest:
    """One request a submission will create: a role-group (or none: access type only); for
    temporary access its hours; for an extension, the grant it extends."""

    role_group: RoleGroup | None
    end_date: date | None
    duration_hours: int | None = None
    grant: Grant | None = None

    @property
    def kind(self) -> str:
        return AccessRequest.Kind.EXTENSION if self.grant else AccessRequest.Kind.GRANT


@dataclass(frozen=True)
class RequestPlan:
    """Exactly what a submission will create, shown on the review page before sending."""

    requester: User
    iam_user_name: str
    existing_account: IamAccount | None
    current_access_type: str
    access_type: str
    justification: str
    requests: tuple[PlannedRequest, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    copied_from: User | None = None
    approver: User | None = None
    route: str = AccessRequest.Route.MANAGER

    @property
    def current_access_type_label(self) -> str:
        return AccessType(self.current_access_type).label if self.current_access_type else ""

    @property
    def route_label(self) -> str:
        return AccessRequest.Route(self.route).label

    @property
    def is_change(self) -> bool:
        return self.existing_account is not None

    @property
    def console(self) -> bool:
        return self.access_type in CONSOLE_TYPES

    @property
    def access_key(self) -> bool:
        return self.access_type in KEY_TYPES

    @property
    def new_console_password(self) -> bool:
        """A console password is made (and must be changed at first sign-in) when console access
        is new for this IAM user."""
        return self.console and self.current_access_type not in CONSOLE_TYPES

    @property
    def new_access_key(self) -> bool:
        return self.access_key and self.current_access_type not in KEY_TYPES

    @property
    def removes_console(self) -> bool:
        return self.is_change and not self.console and self.current_access_type in CONSOLE_TYPES

    @property
    def removes_access_key(self) -> bool:
        return self.is_change and not self.access_key and self.current_access_type in KEY_TYPES

    @property
    def role_groups(self) -> list[RoleGroup]:
        return [planned.role_group for planned in self.requests if planned.role_group]

    def digest(self) -> str:
        """A keyed fingerprint of the plan: the confirm step refuses to send anything other
        than what was reviewed (tampered hidden fields, or something changed meanwhile)."""
        body = {
            "requester": self.requester.pk,
            "iam_user_name": self.iam_user_name,
            "existing_account": self.existing_account.pk if self.existing_account else None,
            "access_type": self.access_type,
            "justification": self.justification,
            "requests": [
                [
                    p.role_group.pk if p.role_group else None,
                    str(p.end_date or ""),
                    p.duration_hours,
                    p.grant.pk if p.grant else None,
                ]
                for p in self.requests
            ],
            "copied_from": self.copied_from.pk if self.copied_from else None,
        }
        return salted_hmac(
            "provisioning.access_request_review", json.dumps(body, sort_keys=True)
        ).hexdigest()


class PlanChanged(RequestInvalid):
    """What would be created differs from what the requester reviewed."""

    def __init__(self, plan: RequestPlan) -> None:
        self.plan = plan
        super().__init__(
            "The request changed after you reviewed it. Check the details again and confirm."
        )


def _end_date_for(role_group: RoleGroup, end_date: date | None, today: date) -> date | None:
    if role_group.temporary_only:
        raise RequestInvalid(
            f"{role_group.name} is temporary access: ask for it under Temporary access."
        )
    if end_date is not None and end_date < today:
        raise RequestInvalid("The end date cannot be in the past.")
    if role_group.max_duration_days is None:
        return end_date
    latest = today + timedelta(days=role_group.max_duration_days)
    if end_date is None:
        # A group with a maximum duration is never granted open-ended.
        return latest
    if end_date > latest:
        raise RequestInvalid(
            f"{role_group.name} can be held for at most {role_group.max_duration_days} days: "
            f"choose an end date on or before {latest:%d %b %Y}."
        )
    return end_date


def _iam_user_name(requester: User, account: IamAccount | None) -> str:
    if account is not None:
        return account.user_name
    # A person whose first request is still in flight keeps the name it was given, so two
    # requests never create two IAM users.
    earlier = (
        AccessRequest.objects.filter(requester=requester)
        .exclude(iam_user_name="")
        .exclude(iam_user_name__in=IamAccount.objects.values("user_name"))
        .order_by("-submitted_at", "-pk")
        .values_list("iam_user_name", flat=True)
        .first()
    )
    if earlier:
        return earlier
    return iam_user_name_for(requester.email, is_taken=names_taken_except_by(requester.pk))


def _check_justification(justification: str) -> str:
    text = justification.strip()
    if not JUSTIFICATION_MIN_LENGTH <= len(text) <= JUSTIFICATION_MAX_LENGTH:
        raise RequestInvalid(
            f"The justification must be {JUSTIFICATION_MIN_LENGTH} to "
            f"{JUSTIFICATION_MAX_LENGTH} characters."
        )
    return text


def _refuse_held(role_group: RoleGroup, grant: Grant) -> None:
    if grant.state != Grant.State.ACTIVE:
        raise AlreadyHeld(
            f"Your {role_group.name} access is being removed: ask again once it has gone."
        )
    if grant.ends_on is None:
        raise AlreadyHeld(f"You already have {role_group.name} (IAM user {grant.iam_account}).")
    until = f"{grant.ends_at:%d %b %Y, %H:%M}" if grant.ends_at else f"{grant.ends_on:%d %b %Y}"
    raise ExtensionOffered(
        f"You already have {role_group.name} until {until}: ask to extend it instead.",
        grant_id=grant.pk,
    )


def _extension(
    grant: Grant,
    held: dict[int, Grant],
    open_by_group: dict[int, AccessRequest],
    end_date: date | None,
    duration_hours: int | None,
    today: date,
) -> PlannedRequest:
    """An extension of a grant the requester holds now (as read again here), to a later end."""
    role_group = grant.role_group
    if held.get(role_group.pk) is None or held[role_group.pk].pk != grant.pk:
        raise RequestInvalid("You can only extend access you hold now.")
    grant = held[role_group.pk]
    if grant.ends_on is None:
        raise RequestInvalid(f"Your {role_group.name} access has no end date to extend.")
    if not role_group.active:
        raise RequestInvalid(f"{role_group.name} is no longer offered: it cannot be extended.")
    if grant.state != Grant.State.ACTIVE:
        raise RequestInvalid(
            f"Your {role_group.name} access is being removed: it cannot be extended."
        )
    if role_group.pk in open_by_group:
        existing = open_by_group[role_group.pk]
        raise DuplicateOpenRequest(
            f"You already have an open request for {role_group.name} "
            f"(#{existing.pk}, {existing.get_status_display().lower()})."
        )
    if role_group.temporary_only:
        if end_date is not None:
            raise RequestInvalid("Temporary access ends after its hours: leave the end date.")
        hours = rules.temporary_hours(role_group, duration_hours)
        return PlannedRequest(role_group, None, duration_hours=hours, grant=grant)
    return PlannedRequest(
        role_group, rules.extension_end_date(role_group, grant, end_date, today), grant=grant
    )


def access_request_plan(
    *,
    requester: User,
    access_type: str,
    justification: str,
    role_group: RoleGroup | None = None,
    colleague: User | None = None,
    end_date: date | None = None,
    duration_hours: int | None = None,
    extends: Grant | None = None,
) -> RequestPlan:
    """Work out what a submission would create, refusing what the rules do not allow.

    Either a role-group (for temporary access, with its hours), or a grant to extend, or a
    colleague whose live role-groups are copied (one request per group, skipping those held
    or already asked for), or neither: then only the access type of the requester's existing
    IAM user changes. A role-group held until an end date is offered as an extension."""
    if not requester.is_active:
        raise RequestInvalid("Only active people can request access.")
    if access_type not in AccessType.values:
        raise RequestInvalid("Choose console, programmatic or both.")
    if role_group is not None and colleague is not None:
        raise RequestInvalid("Choose a role-group or a colleague to copy, not both.")
    asked_for = extends.role_group if extends is not None else role_group
    if duration_hours is not None and (asked_for is None or not asked_for.temporary_only):
        raise RequestInvalid("Only temporary access is asked for in hours.")
    text = _check_justification(justification)
    today = timezone.localdate()
    account = selectors.live_iam_account_of(requester)
    current = selectors.current_access_type(requester) if account else ""
    held = {grant.role_group_id: grant for grant in selectors.live_grants_of(requester)}
    open_requests = list(selectors.open_requests_of(requester))
    open_by_group = {r.role_group_id: r for r in open_requests if r.role_group_id}

    planned: list[PlannedRequest] = []
    skipped: list[tuple[str, str]] = []
    if colleague is not None:
        if colleague.pk == requester.pk:
            raise RequestInvalid("Choose a colleague other than yourself.")
        if not colleague.is_active:
            raise RequestInvalid(f"{colleague} is not an active colleague.")
        if not selectors.is_teammate(requester, colleague):
            raise RequestInvalid(
                f"{colleague} is not on your team: ask your manager which role-groups you need."
            )
        groups = sorted(
            {g.role_group_id: g.role_group for g in selectors.live_grants_of(colleague)}.values(),
            key=lambda group: group.name,
        )
        if not groups:
            raise RequestInvalid(f"{colleague} holds no role-groups to copy.")
        for group in groups:
            if not group.active:
                skipped.append((group.name, "no longer offered"))
            elif group.synced_at is None:
                skipped.append((group.name, "not ready yet"))
            elif group.temporary_only:
                skipped.append((group.name, "temporary access: ask for it yourself"))
            elif group.pk in held:
                skipped.append((group.name, "you already have it"))
            elif group.pk in open_by_group:
                skipped.append((group.name, "you have already asked for it"))
            else:
                planned.append(PlannedRequest(group, _end_date_for(group, end_date, today)))
        if not planned:
            raise RequestInvalid(
                f"Nothing to request: you already have or have asked for every role-group "
                f"{colleague} holds."
            )
    elif extends is not None:
        planned.append(_extension(extends, held, open_by_group, end_date, duration_hours, today))
        access_type = current or access_type
    elif role_group is not None:
        if not role_group.active:
            raise RequestInvalid(f"{role_group.name} is no longer offered.")
        if role_group.synced_at is None:
            raise RequestInvalid(
                f"{role_group.name} is not ready yet: a security admin must sync it to AWS "
                "before it can be requested."
            )
        if role_group.pk in held:
            _refuse_held(role_group, held[role_group.pk])
        if role_group.pk in open_by_group:
            existing = open_by_group[role_group.pk]
            raise DuplicateOpenRequest(
                f"You already have an open request for {role_group.name} "
                f"(#{existing.pk}, {existing.get_status_display().lower()})."
            )
        if role_group.temporary_only:
            if end_date is not None:
                raise RequestInvalid("Temporary access ends after its hours: leave the end date.")
            hours = rules.temporary_hours(role_group, duration_hours)
            planned.append(PlannedRequest(role_group, None, duration_hours=hours))
        else:
            planned.append(PlannedRequest(role_group, _end_date_for(role_group, end_date, today)))
    else:
        if account is None:
            raise RequestInvalid("Choose a role-group: you have no IAM user yet.")
        if access_type == current:
            raise RequestInvalid(
                f"Your IAM user {account.user_name} already has "
                f"{AccessType(access_type).label.lower()} access: choose a role-group or a "
                f"different access type."
            )
        if any(r.role_group_id is None for r in open_requests):
            raise DuplicateOpenRequest("You already have an open request to change access type.")
        if end_date is not None:
            raise RequestInvalid("An end date applies to a role-group; choose one or leave it.")
        planned.append(PlannedRequest(None, None))

    first_stage = selectors.first_stage_route(requester)
    return RequestPlan(
        requester=requester,
        iam_user_name=_iam_user_name(requester, account),
        existing_account=account,
        current_access_type=current,
        access_type=access_type,
        justification=text,
        requests=tuple(planned),
        skipped=tuple(skipped),
        copied_from=colleague,
        approver=first_stage.approver,
        route=first_stage.route,
    )
