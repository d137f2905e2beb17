"""Offboarding a leaver: cut the portal at once, tear down every IAM user in AWS's order, then
prove that nothing is left.

- `offboarding_start`: HR's confirming transaction (or `manage.py offboard`).
- `offboarding_teardown`: the worker's part, resumable step by step.
- `offboarding_verify`: re-read IAM and record the report; completed only when nothing remains.
- `offboarding_give_up`: the worker could not finish; record why and tell people.
- `offboarding_report_json` / `offboarding_report_csv`: the evidence, for download.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

import audit
from accounts import roles
from accounts.emails import send_templated_email
from accounts.models import EmploymentStatus, User
from provisioning import aws
from provisioning.errors import PortalError
from provisioning.models import (
    AccessKeyRecord,
    AccessRequest,
    CredentialLink,
    Grant,
    IamAccount,
    Offboarding,
)
from provisioning.selectors_offboarding import (
    hr_recipients,
    offboarding_targets,
    security_admin_recipients,
)
from provisioning.tasks import teardown_offboarding

logger = logging.getLogger(__name__)


class OffboardingError(PortalError):
    """An offboarding the portal refuses, with a message fit to show HR."""


class OffboardingNotAllowed(OffboardingError):
    """The actor may not offboard this person."""


class OffboardingAlreadyRunning(OffboardingError):
    """The person's previous offboarding has not finished yet."""


class OffboardingBusy(Exception):
    """Another worker is tearing this offboarding down right now."""


OPEN_STATUSES = (Offboarding.Status.PENDING, Offboarding.Status.IN_PROGRESS)

# Cutting access comes first, for every IAM user of the person, before anything else.
ACCESS_STEPS = ("login_profile", "access_keys_deactivated")
# Then the rest, in AWS's documented order (the order of aws.CREDENTIAL_KINDS, whose first,
# the login profile, went with cutting access); "user" deletes it (or, disabling, locks it).
REST_STEPS = (*aws.CREDENTIAL_KINDS[1:], "user")
STEPS = ACCESS_STEPS + REST_STEPS

KIND_LABELS = {
    "login_profile": "Console password",
    "access_keys": "Access keys",
    "signing_certificates": "Signing certificates",
    "ssh_public_keys": "SSH public keys",
    "service_specific_credentials": "Service-specific credentials",
    "mfa_devices": "MFA devices",
    "inline_policies": "Inline policies",
    "attached_policies": "Attached policies",
    "groups": "Group memberships",
    "permissions_boundary": "Permissions boundary",
    "user": "IAM user",
}

_STEP_ACTIONS = {
    "login_profile": "iam.login_profile.deleted",
    "access_keys_deactivated": "iam.access_keys.deactivated",
    "access_keys": "iam.access_keys.deleted",
    "signing_certificates": "iam.signing_certificates.deleted",
    "ssh_public_keys": "iam.ssh_public_keys.deleted",
    "service_specific_credentials": "iam.service_specific_credentials.deleted",
    "mfa_devices": "iam.mfa_devices.removed",
    "inline_policies": "iam.inline_policies.deleted",
    "attached_policies": "iam.attached_policies.detached",
    "groups": "iam.groups.left",
    "permissions_boundary": "iam.permissions_boundary.deleted",
}

# Session-level advisory lock namespace for teardowns (the audit chain uses 7_142_001).
_TEARDOWN_LOCK_NAMESPACE = 7_142_004


def _person_target(person: User) -> str:
    return f"person:{person.pk}"


def _target(offboarding: Offboarding) -> str:
    return f"offboarding:{offboarding.pk}"


# --- The confirming transaction -------------------------------------------------------------


def offboarding_start(
    *,
    actor: User,
    person: User,
    mode: str = Offboarding.Mode.DELETE,
    ip: str | None = None,
    enqueue: bool = True,
) -> Offboarding:
    """Offboard a leaver. Everything in the portal happens here, in one transaction; AWS
    follows in the worker.

    Steps: check the actor holds the offboarding permission and is not the leaver; lock the
    leaver and refuse if an offboarding of theirs is still running; deactivate the portal
    account and delete every stored session of it; cancel their open requests; revoke their
    unused credential links, wiping the sealed secrets; move their reports (and so the
    reports' pending requests) to the leaver's own manager; record it all on the Offboarding,
    with an audit row per change; enqueue the teardown once committed (`enqueue=False` leaves
    that to the caller, as `manage.py offboard --wait` does)."""
    if not (actor.is_active and actor.has_perm(roles.OFFBOARD_PEOPLE)):
        raise OffboardingNotAllowed("Only HR can offboard people.")
    if actor.pk == person.pk:
        raise OffboardingNotAllowed("You cannot offboard yourself: ask another HR person.")
    if mode not in Offboarding.Mode.values:
        raise OffboardingError(f"Unknown offboarding mode {mode!r}.")
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=person.pk)
        if Offboarding.objects.filter(person=person, status__in=OPEN_STATUSES).exists():
            raise OffboardingAlreadyRunning(
                f"{person} is already being offboarded: see the report on their page."
            )
        now = timezone.now()
        offboarding = Offboarding.objects.create(person=person, started_by=actor, mode=mode)
        portal = {
            "deactivated_at": now,
            "was_active": person.is_active,
            "sessions_ended": _deactivate(person, actor=actor, now=now, ip=ip),
            "requests_cancelled": _cancel_open_requests(person, offboarding, actor=actor, ip=ip),
            "links_revoked": _revoke_unused_links(person, offboarding, actor=actor, ip=ip),
            "reports_moved": _move_reports(person, offboarding, actor=actor, ip=ip),
        }
        offboarding.report = _jsonable({"portal": portal})
        offboarding.save(update_fields=["report"])
        audit.record(
            "offboarding.started",
            actor=actor,
            target=_target(offboarding),
            data={
                "email": person.email,
                "mode": mode,
                "sessions_ended": portal["sessions_ended"],
                "requests_cancelled": len(portal["requests_cancelled"]),
                "links_revoked": portal["links_revoked"],
                "reports_moved": [moved["email"] for moved in portal["reports_moved"]],
            },
            ip=ip,
        )
        if enqueue:
            teardown_offboarding.delay_on_commit(offboarding.pk)
    return offboarding


def _deactivate(person: User, *, actor: User, now: datetime, ip: str | None) -> int:
    person.is_active = False
    person.employment_status = EmploymentStatus.LEFT
    person.left_at = person.left_at or now
    person.save(update_fields=["is_active", "employment_status", "left_at"])
    ended = _end_sessions(person, now=now)
    audit.record(
        "person.deactivated",
        actor=actor,
        target=_person_target(person),
        data={"email": person.email, "left_at": person.left_at, "sessions_ended": ended},
        ip=ip,
    )
    return ended


def _end_sessions(person: User, *, now: datetime) -> int:
    """Delete every stored session of the person; returns how many.

    Sessions are not indexed by user, so each unexpired one is decoded: cheap at the size of
    an organisation's portal. With a session engine that cannot be listed (signed cookies,
    plain cache) nothing is deleted here, and the next request of such a session is still
    refused: Django's ModelBackend gives no user for an inactive account."""
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    if not issubclass(store_class, DatabaseSessionStore):
        return 0
    ended = 0
    for session in Session.objects.filter(expire_date__gt=now).iterator():
        if str(session.get_decoded().get(SESSION_KEY)) == str(person.pk):
            # Through the store, so a cached_db engine forgets its cached copy as well.
            store_class(session_key=session.session_key).delete()
            ended += 1
    return ended


def _cancel_open_requests(
    person: User, offboarding: Offboarding, *, actor: User, ip: str | None
) -> list[dict[str, Any]]:
    # of=("self",): role_group is nullable, and Postgres cannot lock the outer side of a join.
    open_requests = list(
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("role_group")
        .filter(requester=person, status__in=AccessRequest.OPEN_STATUSES)
        .order_by("pk")
    )
    cancelled = []
    for access_request in open_requests:
        was = access_request.status
        access_request.status = AccessRequest.Status.CANCELLED
        access_request.save(update_fields=["status", "updated_at"])
        role_group = access_request.role_group.name if access_request.role_group else None
        audit.record(
            "request.cancelled",
            actor=actor,
            target=f"access_request:{access_request.pk}",
            data={
                "role_group": role_group,
                "was": was,
                "reason": "requester offboarded",
                "offboarding": offboarding.pk,
            },
            ip=ip,
        )
        cancelled.append({"id": access_request.pk, "role_group": role_group, "was": was})
    return cancelled


def _revoke_unused_links(
    person: User, offboarding: Offboarding, *, actor: User, ip: str | None
) -> int:
    unused = CredentialLink.objects.filter(
        Q(recipient=person) | Q(iam_account__owner=person),
        revealed_at__isnull=True,
        revoked_at__isnull=True,
    )
    link_ids = list(unused.order_by("pk").values_list("pk", flat=True))
    CredentialLink.objects.filter(pk__in=link_ids).update(
        revoked_at=timezone.now(), sealed_password=None, sealed_secret_key=None
    )
    for link_id in link_ids:
        audit.record(
            "credential_link.revoked",
            actor=actor,
            target=f"credential_link:{link_id}",
            data={"reason": "recipient offboarded", "offboarding": offboarding.pk},
            ip=ip,
        )
    return len(link_ids)


def _move_reports(
    person: User, offboarding: Offboarding, *, actor: User, ip: str | None
) -> list[dict[str, Any]]:
    """The leaver's reports now report to the leaver's manager, so their pending requests have
    someone to decide them today. HR is told, because that is rarely the right manager for
    long."""
    new_manager = person.manager
    reports = list(User.objects.select_for_update().filter(manager=person, is_active=True))
    moved = []
    for report in reports:
        report.manager = new_manager
        report.save(update_fields=["manager"])
        pending = AccessRequest.objects.filter(
            requester=report, status__in=AccessRequest.UNDECIDED_STATUSES
        ).count()
        audit.record(
            "person.updated",
            actor=actor,
            target=_person_target(report),
            data={
                "email": report.email,
                "before": {"manager": person.email},
                "after": {"manager": new_manager.email if new_manager else None},
                "reason": "manager offboarded",
                "offboarding": offboarding.pk,
            },
            ip=ip,
        )
        moved.append(
            {
                "id": report.pk,
                "email": report.email,
                "name": report.get_full_name(),
                "new_manager": new_manager.email if new_manager else None,
                "pending_requests": pending,
            }
        )
    return moved


# --- The worker's teardown ------------------------------------------------------------------


@contextmanager
def _teardown_lock(offboarding_id: int) -> Iterator[bool]:
    """One worker at a time per offboarding, for as long as it works on it.

    A Postgres session-level advisory lock: it needs no lease to tune, and it is released
    the moment a worker's connection dies, so a SIGKILLed worker's redelivered task takes over
    at once. SQLite (the demo) has no such lock; its single worker process and idempotent
    steps make a second concurrent run harmless there."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [_TEARDOWN_LOCK_NAMESPACE, offboarding_id]
        )
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)",
                    [_TEARDOWN_LOCK_NAMESPACE, offboarding_id],
                )


def offboarding_teardown(*, offboarding_id: int) -> Offboarding | None:
    """Tear down every IAM user of the leaver, then verify. Returns None when there is
    nothing to do (the offboarding is gone or finished); raises OffboardingBusy when another
    worker holds it, and transient AwsErrors for the task to retry (steps done stay done).

    Steps: take the lock and claim the row (a conditional update from pending/in progress);
    read what each IAM user holds before anything is removed; cut access on every user first
    (console password deleted, access keys inactive) and record `access_cut_at`; then the
    rest of each user's teardown in AWS's order; each step recorded in `steps_done` with an
    audit row, a permanent error recorded and the next step tried; then verify."""
    with _teardown_lock(offboarding_id) as held:
        if not held:
            raise OffboardingBusy(f"offboarding {offboarding_id} is held by another worker")
        claimed = Offboarding.objects.filter(pk=offboarding_id, status__in=OPEN_STATUSES).update(
            status=Offboarding.Status.IN_PROGRESS, attempts=F("attempts") + 1
        )
        if claimed != 1:
            return None
        offboarding = Offboarding.objects.select_related("person", "started_by").get(
            pk=offboarding_id
        )
        accounts = offboarding_targets(offboarding.person)
        for account in accounts:
            _record_found(offboarding, account)
        for account in accounts:
            for step in ACCESS_STEPS:
                _run_step(offboarding, account, step)
        if offboarding.access_cut_at is None and all(
            f"{account.user_name}:{step}" in offboarding.steps_done
            for account in accounts
            for step in ACCESS_STEPS
        ):
            offboarding.access_cut_at = timezone.now()
            Offboarding.objects.filter(pk=offboarding.pk).update(
                access_cut_at=offboarding.access_cut_at
            )
        for account in accounts:
            for step in REST_STEPS:
                _run_step(offboarding, account, step)
        return offboarding_verify(offboarding=offboarding)


def _save_report(offboarding: Offboarding) -> None:
    offboarding.report = _jsonable(offboarding.report)
    Offboarding.objects.filter(pk=offboarding.pk).update(report=offboarding.report)


def _record_found(offboarding: Offboarding, account: IamAccount) -> None:
    """What the user holds before the first step touches it: the report's "found" column.
    Kept across restarts, so a resumed run does not mistake half-removed for found."""
    found = offboarding.report.setdefault("found", {})
    if account.user_name in found:
        return
    try:
        inventory = aws.read_user(account.user_name)
    except aws.AwsError as error:
        if error.transient:
            raise
        _record_error(offboarding, account, "read", error)
        found[account.user_name] = {"exists": None, "counts": {}, "virtual_mfa_devices": []}
        _save_report(offboarding)
        return
    found[account.user_name] = {
        "exists": inventory.exists,
        "counts": inventory.counts(),
        "virtual_mfa_devices": [d.serial_number for d in inventory.mfa_devices if d.virtual],
    }
    _save_report(offboarding)


def _record_error(
    offboarding: Offboarding, account: IamAccount, step: str, error: aws.AwsError
) -> None:
    message = f"{account.user_name}: {KIND_LABELS.get(step, step)}: {error.code}: {error.message}"
    offboarding.report.setdefault("errors", []).append(message)
    _save_report(offboarding)
    audit.record(
        "offboarding.step_failed",
        target=f"iam_user:{account.user_name}",
        data={
            "offboarding": offboarding.pk,
            "step": step,
            "code": error.code,
            "message": error.message[:500],
            "aws_request_id": error.request_id,
        },
    )


def _step_function(offboarding: Offboarding, account: IamAccount, step: str) -> Callable[[], Any]:
    name = account.user_name
    disabling = offboarding.mode == Offboarding.Mode.DISABLE
    found = offboarding.report.get("found", {}).get(name, {})
    functions: dict[str, Callable[[], Any]] = {
        "login_profile": lambda: aws.delete_login_profile(name),
        "access_keys_deactivated": lambda: aws.deactivate_access_keys(name),
        "access_keys": lambda: aws.delete_access_keys(name),
        "signing_certificates": lambda: aws.delete_signing_certificates(name),
        "ssh_public_keys": lambda: aws.delete_ssh_public_keys(name),
        "service_specific_credentials": lambda: aws.delete_service_specific_credentials(name),
        "mfa_devices": lambda: aws.remove_mfa_devices(
            name, known_virtual=found.get("virtual_mfa_devices", [])
        ),
        # A disabled user keeps the portal's deny-all policy (from an earlier offboarding).
        "inline_policies": lambda: aws.delete_inline_policies(
            name, keep=(aws.DENY_ALL_POLICY_NAME,) if disabling else ()
        ),
        "attached_policies": lambda: aws.detach_user_policies(name),
        "groups": lambda: aws.remove_from_groups(name),
        "permissions_boundary": lambda: aws.delete_permissions_boundary(name),
        "user": (
            (lambda: aws.disable_user(name, on=timezone.localdate()))
            if disabling
            else (lambda: aws.delete_user(name))
        ),
    }
    return functions[step]


def _run_step(offboarding: Offboarding, account: IamAccount, step: str) -> None:
    key = f"{account.user_name}:{step}"
    if key in offboarding.steps_done:
        return
    try:
        with aws.recording() as calls:
            removed = _step_function(offboarding, account, step)()
    except aws.AwsError as error:
        if error.transient:
            raise
        _record_error(offboarding, account, step, error)
        return
    with transaction.atomic():
        offboarding.steps_done = [*offboarding.steps_done, key]
        Offboarding.objects.filter(pk=offboarding.pk).update(steps_done=offboarding.steps_done)
        # "removed" is what this run removed: empty when there was none, or when a run that
        # crashed had already removed it.
        data: dict[str, Any] = {"offboarding": offboarding.pk, "step": step, "removed": removed}
        data.update(_portal_records_after(offboarding, account, step))
        data["aws_request_ids"] = calls.request_ids[:50]
        action = _STEP_ACTIONS.get(step) or (
            "iam.user.disabled"
            if offboarding.mode == Offboarding.Mode.DISABLE
            else "iam.user.deleted"
        )
        audit.record(action, target=f"iam_user:{account.user_name}", data=data)


def _portal_records_after(offboarding: Offboarding, account: IamAccount, step: str) -> dict:
    """Bring the portal's own records in line with what the step did in AWS."""
    now = timezone.now()
    if step == "access_keys":
        keys = AccessKeyRecord.objects.filter(iam_account=account, deleted_at__isnull=True)
        marked = list(keys.values_list("access_key_id", flat=True))
        keys.update(deleted_at=now)
        return {"access_key_records_marked_deleted": marked}
    if step == "groups":
        grants = Grant.objects.filter(iam_account=account, revoked_at__isnull=True)
        revoked = list(grants.values_list("role_group__name", flat=True))
        grants.update(revoked_at=now)
        return {"grants_revoked": revoked}
    if step == "user":
        status = (
            IamAccount.Status.DISABLED
            if offboarding.mode == Offboarding.Mode.DISABLE
            else IamAccount.Status.DELETED
        )
        IamAccount.objects.filter(pk=account.pk).update(status=status)
        return {"iam_account_status": status}
    return {}


# --- Verification and the report ------------------------------------------------------------


def offboarding_verify(*, offboarding: Offboarding) -> Offboarding:
    """Re-read IAM and record the report; finish the offboarding.

    Steps: read every IAM user the teardown covered, plus any of the person's accounts that
    appeared since (a request that was mid-provisioning when HR confirmed); per user and kind
    count found, removed and remaining; deleting, the user must be gone; disabling, it must
    carry the deny-all policy and the offboarded tag; completed only when nothing remains and
    no step failed, otherwise incomplete with the reasons; audit; email HR the report, and on
    incomplete the security admins too."""
    found = offboarding.report.get("found", {})
    names = sorted(
        set(found) | {account.user_name for account in offboarding_targets(offboarding.person)}
    )
    accounts, reasons = [], list(offboarding.report.get("errors", []))
    for name in names:
        try:
            inventory = aws.read_user(name)
        except aws.AwsError as error:
            if error.transient:
                raise
            reasons.append(f"{name}: could not re-read the user: {error.code}: {error.message}")
            accounts.append({"user_name": name, "verified": False, "kinds": {}})
            continue
        entry = _account_report(offboarding, name, found.get(name), inventory)
        reasons += entry.pop("reasons")
        accounts.append(entry)
    remaining_total = sum(
        counts["remaining"] for entry in accounts for counts in entry["kinds"].values()
    )
    if remaining_total:
        reasons.append(f"{remaining_total} credential(s) or permission(s) remain in AWS.")
    completed = not reasons
    now = timezone.now()
    offboarding.status = (
        Offboarding.Status.COMPLETED if completed else Offboarding.Status.INCOMPLETE
    )
    offboarding.finished_at = now
    offboarding.failure_reason = " ".join(_unique(reasons))
    offboarding.report.update(
        {
            "verified_at": now,
            "accounts": accounts,
            "remaining_total": remaining_total,
            "reasons": _unique(reasons),
        }
    )
    offboarding.report = _jsonable(offboarding.report)
    with transaction.atomic():
        Offboarding.objects.filter(pk=offboarding.pk).update(
            status=offboarding.status,
            finished_at=now,
            failure_reason=offboarding.failure_reason,
            report=offboarding.report,
        )
        audit.record(
            "offboarding.completed" if completed else "offboarding.incomplete",
            target=_target(offboarding),
            data={
                "email": offboarding.person.email,
                "mode": offboarding.mode,
                "iam_users": names,
                "remaining_total": remaining_total,
                "reasons": _unique(reasons)[:20],
            },
        )
        transaction.on_commit(lambda: _send_report(offboarding))
    return offboarding


def _account_report(
    offboarding: Offboarding,
    name: str,
    found: dict[str, Any] | None,
    inventory: aws.UserInventory,
) -> dict[str, Any]:
    remaining = inventory.counts()
    # An account that appeared after teardown started was never torn down: all of it remains.
    found_counts = found["counts"] if found else remaining
    existed = found.get("exists") if found else None
    if existed is None:
        existed = inventory.exists
    kinds = {
        kind: {
            "found": found_counts.get(kind, 0),
            "removed": max(found_counts.get(kind, 0) - remaining[kind], 0),
            "remaining": remaining[kind],
        }
        for kind in aws.CREDENTIAL_KINDS
    }
    reasons = []
    if not found:
        reasons.append(f"{name}: appeared after the teardown started and was not torn down.")
    disabling = offboarding.mode == Offboarding.Mode.DISABLE
    if disabling:
        outcome = "disabled" if inventory.exists else "absent"
        if inventory.exists and not inventory.deny_all_attached:
            reasons.append(f"{name}: the deny-all policy is not attached.")
        if inventory.exists and aws.OFFBOARDED_TAG not in inventory.tags:
            reasons.append(f"{name}: the offboarded tag is missing.")
    else:
        outcome = "deleted" if existed and not inventory.exists else "absent"
        kinds["user"] = {
            "found": int(existed),
            "removed": int(existed and not inventory.exists),
            "remaining": int(inventory.exists),
        }
        if inventory.exists:
            outcome = "still exists"
    return {
        "user_name": name,
        "verified": True,
        "outcome": outcome,
        "exists_after": inventory.exists,
        "deny_all_attached": inventory.deny_all_attached if disabling else None,
        "offboarded_tag": inventory.tags.get(aws.OFFBOARDED_TAG) if disabling else None,
        "kinds": kinds,
        "reasons": reasons,
    }


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def report_accounts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's IAM users with their kinds labelled and in teardown order, for pages and
    emails (templates cannot look labels up by key)."""
    order = [*aws.CREDENTIAL_KINDS, "user"]
    return [
        {
            **entry,
            "kinds": [
                {"kind": kind, "label": KIND_LABELS[kind], **entry["kinds"][kind]}
                for kind in order
                if kind in entry.get("kinds", {})
            ],
        }
        for entry in report.get("accounts", [])
    ]


def _send_report(offboarding: Offboarding) -> None:
    context = {
        "offboarding": offboarding,
        "person": offboarding.person,
        "report": offboarding.report,
        "accounts": report_accounts(offboarding.report),
        "url": f"{settings.PORTAL_BASE_URL}{reverse('offboarding_detail', args=[offboarding.pk])}",
    }
    hr = hr_recipients()
    send_templated_email("offboarding_report", hr, context)
    if offboarding.status == Offboarding.Status.INCOMPLETE:
        send_templated_email("offboarding_incomplete", [*hr, *security_admin_recipients()], context)


def offboarding_give_up(*, offboarding_id: int, reason: str) -> Offboarding | None:
    """The worker could not finish (retries spent, or an unexpected error). Verify what can be
    verified and record the offboarding as incomplete with the reason, so HR and the security
    admins hear of it; HR can offboard the person again, which resumes nothing but redoes
    every step safely."""
    offboarding = (
        Offboarding.objects.select_related("person", "started_by")
        .filter(pk=offboarding_id, status__in=OPEN_STATUSES)
        .first()
    )
    if offboarding is None:
        return None
    offboarding.report.setdefault("errors", []).append(f"The worker gave up: {reason}")
    try:
        return offboarding_verify(offboarding=offboarding)
    except Exception:
        logger.exception("offboarding %s: verification failed after giving up", offboarding_id)
    now = timezone.now()
    offboarding.status = Offboarding.Status.INCOMPLETE
    offboarding.finished_at = now
    offboarding.failure_reason = f"The worker gave up and could not verify: {reason}"
    offboarding.report = _jsonable({**offboarding.report, "reasons": [offboarding.failure_reason]})
    with transaction.atomic():
        offboarding.save(update_fields=["status", "finished_at", "failure_reason", "report"])
        audit.record(
            "offboarding.incomplete",
            target=_target(offboarding),
            data={"email": offboarding.person.email, "reasons": [offboarding.failure_reason]},
        )
        transaction.on_commit(lambda: _send_report(offboarding))
    return offboarding


# --- The evidence, for download -------------------------------------------------------------

CSV_COLUMNS = (
    "offboarding",
    "person",
    "mode",
    "status",
    "iam_user",
    "outcome",
    "kind",
    "found",
    "removed",
    "remaining",
)


def offboarding_report_json(*, offboarding: Offboarding) -> str:
    document = {
        "offboarding": offboarding.pk,
        "person": offboarding.person.email,
        "mode": offboarding.mode,
        "status": offboarding.status,
        "started_by": offboarding.started_by.email,
        "started_at": offboarding.started_at,
        "access_cut_at": offboarding.access_cut_at,
        "finished_at": offboarding.finished_at,
        "failure_reason": offboarding.failure_reason,
        "steps_done": offboarding.steps_done,
        **{k: v for k, v in offboarding.report.items() if k != "found"},
    }
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2, sort_keys=True)


def _cell(value: Any) -> Any:
    # A spreadsheet would run a cell starting with one of these as a formula.
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return f"'{value}"
    return value


def offboarding_report_csv(*, offboarding: Offboarding) -> str:
    """One row per IAM user and credential kind: found, removed, remaining."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in offboarding.report.get("accounts", []):
        for kind, counts in entry.get("kinds", {}).items():
            writer.writerow(
                _cell(value)
                for value in [
                    offboarding.pk,
                    offboarding.person.email,
                    offboarding.mode,
                    offboarding.status,
                    entry["user_name"],
                    entry.get("outcome", "not verified"),
                    kind,
                    counts["found"],
                    counts["removed"],
                    counts["remaining"],
                ]
            )
    return out.getvalue()


# --- Sweeping -------------------------------------------------------------------------------


def stuck_offboardings(*, now: datetime | None = None) -> Any:
    """Offboardings still pending or tearing down long after HR confirmed them."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.PROVISIONING_STALE_SECONDS)
    return Offboarding.objects.filter(
        status__in=[Offboarding.Status.PENDING, Offboarding.Status.IN_PROGRESS],
        started_at__lt=cutoff,
    ).order_by("pk")


def stuck_offboardings_sweep(
    *, now: datetime | None = None, enqueue: Callable[[int], Any] | None = None
) -> list[int]:
    """Re-enqueue stuck teardowns (beat). A duplicate of a live run is harmless: the teardown
    holds a lock per offboarding and resumes from its recorded steps."""
    enqueue = enqueue or teardown_offboarding.delay
    swept = []
    for pk, status in stuck_offboardings(now=now).values_list("pk", "status")[:500]:
        try:
            enqueue(pk)
        except Exception:
            logger.warning("Could not enqueue offboarding %s; the next sweep retries.", pk)
            break
        audit.record("offboarding.requeued", target=f"offboarding:{pk}", data={"was": status})
        swept.append(pk)
    if swept:
        logger.info("Re-enqueued %d stuck offboardings: %s", len(swept), swept)
    return swept
