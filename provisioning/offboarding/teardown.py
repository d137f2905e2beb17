"""The worker's teardown: every IAM user of the leaver, in AWS's order, resumable step by step.

Cutting access comes first, for every IAM user, before anything else, reading included:
console password deleted, access keys inactive, in three IAM round trips (the two reads it
needs at once, the password, every key at once). Then what each user holds is read (the
report's "found" column, with the password the cut removed), then the rest of each user's
teardown in AWS's documented order (aws.CREDENTIAL_KINDS); "user" deletes it (or,
disabling, locks it). Each step is recorded in `steps_done` with an audit row; a permanent
error is recorded and the next step tried; verification follows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

import audit
from common.locks import LockKey, session_try_lock
from provisioning import aws, queue
from provisioning.errors import OffboardingBusy
from provisioning.lifecycle.ending import grants_end_for_offboarding
from provisioning.models import AccessKeyRecord, IamAccount, Offboarding
from provisioning.offboarding.report import KIND_LABELS, jsonable
from provisioning.offboarding.selectors import RUNNING_STATUSES, offboarding_targets
from provisioning.offboarding.verify import offboarding_verify

ACCESS_STEPS = ("login_profile", "access_keys_deactivated")
# The login profile, first of aws.CREDENTIAL_KINDS, went with cutting access.
REST_STEPS = (*aws.CREDENTIAL_KINDS[1:], "user")
STEPS = ACCESS_STEPS + REST_STEPS

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


def offboarding_cut_access(*, offboarding_id: int) -> None:
    """The urgent half of a teardown, enqueued at HR's confirm: cut access on every IAM user
    of the leaver (`offboarding_teardown` up to `access_cut_at`), then enqueue the rest of
    the teardown. Cuts have a queue of their own (settings.URGENT_QUEUE), which every
    worker reads first and `worker-urgent` reads alone, so a cut confirmed while rests run
    does not wait for their slots; the rest queues behind every cut already queued.
    Anything that stops the cut (another worker holds it, an AWS error) leaves it to the
    full teardown, which cuts first and retries."""
    try:
        with contextlib.suppress(OffboardingBusy, aws.AwsError):
            offboarding_teardown(offboarding_id=offboarding_id, cut_only=True)
    finally:
        queue.teardown_now(offboarding_id)


def offboarding_teardown(*, offboarding_id: int, cut_only: bool = False) -> Offboarding | None:
    """Tear down every IAM user of the leaver, then verify. Returns None when there is
    nothing to do (the offboarding is gone or finished); raises OffboardingBusy when another
    worker holds it, and transient AwsErrors for the task to retry (steps done stay done).

    Steps: take the lock and claim the row (a conditional update from pending/in progress);
    cut access on every user first (console password deleted, access keys inactive) and
    record `access_cut_at`; read what each IAM user holds (with what the cut removed); then
    the rest of each user's teardown in AWS's order; each step recorded in `steps_done` with an
    audit row, a permanent error recorded and the next step tried; then verify."""
    with session_try_lock(LockKey.OFFBOARDING_TEARDOWN, offboarding_id) as held:
        if not held:
            raise OffboardingBusy(f"offboarding {offboarding_id} is held by another worker")
        claimed = Offboarding.objects.filter(pk=offboarding_id, status__in=RUNNING_STATUSES).update(
            # `attempts` counts full teardown runs; the urgent cut before them is not one.
            status=Offboarding.Status.IN_PROGRESS,
            attempts=F("attempts") + (0 if cut_only else 1),
        )
        if claimed != 1:
            return None
        offboarding = Offboarding.objects.select_related("person", "started_by").get(
            pk=offboarding_id
        )
        accounts = offboarding_targets(offboarding.person)
        _cut_access(offboarding, accounts)
        if cut_only:
            return offboarding
        for account in accounts:
            _record_found(offboarding, account)
        for account in accounts:
            for step in REST_STEPS:
                _run_step(offboarding, account, step)
        return offboarding_verify(offboarding=offboarding)


def _cut_access(offboarding: Offboarding, accounts: list[IamAccount]) -> None:
    """Console password deleted and access keys inactive on every IAM user, reading only what
    the cut needs, at once (each IAM call before it is time the leaver keeps), then all of it
    recorded in one transaction: the steps, `access_cut_at` once every user is cut, an
    audit row per step.
    What AWS did is recorded even when a transient error stops the cut half-way."""
    done: list[tuple[IamAccount, str, Any, list[str]]] = []
    try:
        for account in accounts:
            todo = [
                s for s in ACCESS_STEPS if f"{account.user_name}:{s}" not in offboarding.steps_done
            ]
            read = _look_before_cut(offboarding, account, todo)
            for step in todo:
                finish, read_ids = read.get(step, (None, []))
                outcome = _call_step(offboarding, account, step, function=finish, earlier=read_ids)
                if outcome is not None:
                    done.append((account, step, *outcome))
    finally:
        _record_cut(offboarding, accounts, done)


def _look_before_cut(
    offboarding: Offboarding, account: IamAccount, todo: list[str]
) -> dict[str, tuple[Callable[[], Any], list[str]]]:
    """The two reads the cut needs, made at the same time (each IAM round trip before the
    cut is time the leaver keeps): is there a console password to count
    (`_record_password_before_cut`), and which access keys still work. Returns, for the
    keys step, what finishes it (the listed keys made inactive, or the listing's error
    raised as the step's) and the listing's request ids."""
    name = account.user_name
    cut = offboarding.report.get("cut", {})
    count_password = (
        "login_profile" in todo
        and name not in cut
        and name not in offboarding.report.get("found", {})
    )

    def list_keys() -> tuple[Any, list[str]]:
        with aws.recording() as calls:
            try:
                return aws.active_access_key_ids(name), calls.request_ids
            except aws.AwsError as error:  # the keys step's to record or retry
                return error, calls.request_ids

    reads: list[Callable[[], Any]] = []
    if count_password:
        reads.append(lambda: aws.login_profile_exists(name))
    if "access_keys_deactivated" in todo:
        reads.append(list_keys)
    answers = aws.concurrently(*reads)
    if count_password:
        _record_password_before_cut(offboarding, account, exists=answers.pop(0))
    if not answers:
        return {}
    key_ids, request_ids = answers[0]
    return {"access_keys_deactivated": (_deactivate_listed(name, key_ids), request_ids)}


def _record_cut(
    offboarding: Offboarding,
    accounts: list[IamAccount],
    done: list[tuple[IamAccount, str, Any, list[str]]],
) -> None:
    steps_done = [*offboarding.steps_done, *(f"{a.user_name}:{step}" for a, step, _, _ in done)]
    newly_cut = offboarding.access_cut_at is None and all(
        f"{account.user_name}:{step}" in steps_done for account in accounts for step in ACCESS_STEPS
    )
    if not (done or newly_cut):
        return
    with transaction.atomic(), audit.batch():
        offboarding.steps_done = steps_done
        changes: dict[str, Any] = {"steps_done": steps_done}
        if newly_cut:
            offboarding.access_cut_at = changes["access_cut_at"] = timezone.now()
        Offboarding.objects.filter(pk=offboarding.pk).update(**changes)
        for account, step, removed, request_ids in done:
            audit.record(
                _STEP_ACTIONS[step],
                target=f"iam_user:{account.user_name}",
                subject=account.owner_id,
                data={
                    "offboarding": offboarding.pk,
                    "step": step,
                    "removed": removed,
                    "aws_request_ids": request_ids,
                },
            )


def _save_report(offboarding: Offboarding) -> None:
    offboarding.report = jsonable(offboarding.report)
    Offboarding.objects.filter(pk=offboarding.pk).update(report=offboarding.report)


def _record_found(offboarding: Offboarding, account: IamAccount) -> None:
    """What the user held before the teardown: the report's "found" column, read after the
    cut (which only deletes the console password: it is counted from what the cut recorded).
    Kept across restarts, so a resumed run does not mistake half-removed for found."""
    found = offboarding.report.setdefault("found", {})
    if account.user_name in found:
        return
    cut = offboarding.report.get("cut", {}).get(account.user_name, {})
    try:
        inventory = aws.read_user(account.user_name)
    except aws.AwsError as error:
        if error.transient:
            raise
        _record_error(offboarding, account, "read", error)
        found[account.user_name] = {"exists": None, "counts": {}, "virtual_mfa_devices": []}
        _save_report(offboarding)
        return
    counts = inventory.counts()
    for kind, removed in cut.items():
        counts[kind] = max(counts.get(kind, 0), removed)
    found[account.user_name] = {
        "exists": inventory.exists or bool(cut.get("login_profile")),
        "counts": counts,
        "virtual_mfa_devices": [d.serial_number for d in inventory.mfa_devices if d.virtual],
    }
    _save_report(offboarding)


def _record_password_before_cut(
    offboarding: Offboarding, account: IamAccount, *, exists: bool
) -> None:
    """The one thing the cut removes (keys only turn inactive), recorded before it is
    removed, so the "found" column read after the cut, even after a crash, still counts it.
    One IAM call (`_look_before_cut`): the full read waits until access is cut."""
    offboarding.report.setdefault("cut", {})[account.user_name] = {"login_profile": int(exists)}
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
        subject=account.owner_id,
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


def _call_step(
    offboarding: Offboarding,
    account: IamAccount,
    step: str,
    *,
    function: Callable[[], Any] | None = None,
    earlier: list[str] | None = None,
) -> tuple[Any, list[str]] | None:
    """Do the step in AWS: what it removed and the request ids, or None after recording a
    permanent error (the next step is tried). A transient error leaves for the retry.
    `function` finishes a step whose read was made already, `earlier` its request ids."""
    try:
        with aws.recording() as calls:
            removed = (function or _step_function(offboarding, account, step))()
    except aws.AwsError as error:
        if error.transient:
            raise
        _record_error(offboarding, account, step, error)
        return None
    return removed, [*(earlier or []), *calls.request_ids][:50]


def _deactivate_listed(name: str, key_ids: list[str] | aws.AwsError) -> Callable[[], Any]:
    """The keys step with its listing done: the error that stopped the listing, or every
    listed key made inactive at once."""

    def run() -> list[str]:
        if isinstance(key_ids, aws.AwsError):
            raise key_ids
        return aws.deactivate_access_keys(name, key_ids=key_ids)

    return run


def _run_step(offboarding: Offboarding, account: IamAccount, step: str) -> None:
    key = f"{account.user_name}:{step}"
    if key in offboarding.steps_done:
        return
    outcome = _call_step(offboarding, account, step)
    if outcome is None:
        return
    removed, request_ids = outcome
    with transaction.atomic():
        offboarding.steps_done = [*offboarding.steps_done, key]
        Offboarding.objects.filter(pk=offboarding.pk).update(steps_done=offboarding.steps_done)
        # "removed" is what this run removed: empty when there was none, or when a run that
        # crashed had already removed it.
        data: dict[str, Any] = {"offboarding": offboarding.pk, "step": step, "removed": removed}
        data.update(_portal_records_after(offboarding, account, step))
        data["aws_request_ids"] = request_ids
        action = _STEP_ACTIONS.get(step) or (
            "iam.user.disabled"
            if offboarding.mode == Offboarding.Mode.DISABLE
            else "iam.user.deleted"
        )
        audit.record(
            action, target=f"iam_user:{account.user_name}", subject=account.owner_id, data=data
        )


def _portal_records_after(
    offboarding: Offboarding, account: IamAccount, step: str
) -> dict[str, Any]:
    """Bring the portal's own records in line with what the step did in AWS."""
    now = timezone.now()
    if step == "access_keys":
        keys = AccessKeyRecord.objects.filter(iam_account=account, deleted_at__isnull=True)
        marked = list(keys.values_list("access_key_id", flat=True))
        keys.update(deleted_at=now)
        return {"access_key_records_marked_deleted": marked}
    if step == "groups":
        # One path for a grant's end: the lifecycle's, with its `grant.offboarded` rows.
        ended = grants_end_for_offboarding(account=account, offboarding_id=offboarding.pk)
        return {"grants_revoked": ended}
    if step == "user":
        status = (
            IamAccount.Status.DISABLED
            if offboarding.mode == Offboarding.Mode.DISABLE
            else IamAccount.Status.DELETED
        )
        IamAccount.objects.filter(pk=account.pk).update(status=status)
        return {"iam_account_status": status}
    return {}
