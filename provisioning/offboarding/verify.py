"""Verification: re-read IAM after the teardown and record the report; and the worker's
giving up, which verifies what it can."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

import audit
from provisioning import aws
from provisioning.models import Offboarding
from provisioning.offboarding.report import jsonable, send_report, unique
from provisioning.offboarding.selectors import RUNNING_STATUSES, offboarding_targets

logger = logging.getLogger(__name__)


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
    accounts: list[dict[str, Any]] = []
    reasons: list[str] = list(offboarding.report.get("errors", []))
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
    offboarding.failure_reason = " ".join(unique(reasons))
    offboarding.report.update(
        {
            "verified_at": now,
            "accounts": accounts,
            "remaining_total": remaining_total,
            "reasons": unique(reasons),
        }
    )
    offboarding.report = jsonable(offboarding.report)
    with transaction.atomic():
        Offboarding.objects.filter(pk=offboarding.pk).update(
            status=offboarding.status,
            finished_at=now,
            failure_reason=offboarding.failure_reason,
            report=offboarding.report,
        )
        audit.record(
            "offboarding.completed" if completed else "offboarding.incomplete",
            target=offboarding.audit_target,
            subject=offboarding.person_id,
            data={
                "email": offboarding.person.email,
                "mode": offboarding.mode,
                "iam_users": names,
                "remaining_total": remaining_total,
                "reasons": unique(reasons)[:20],
            },
        )
        transaction.on_commit(lambda: send_report(offboarding))
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


def offboarding_give_up(*, offboarding_id: int, reason: str) -> Offboarding | None:
    """The worker could not finish (retries spent, or an unexpected error). Verify what can be
    verified and record the offboarding as incomplete with the reason, so HR and the security
    admins hear of it; HR can offboard the person again, which resumes nothing but redoes
    every step safely."""
    offboarding = (
        Offboarding.objects.select_related("person", "started_by")
        .filter(pk=offboarding_id, status__in=RUNNING_STATUSES)
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
    offboarding.report = jsonable({**offboarding.report, "reasons": [offboarding.failure_reason]})
    with transaction.atomic():
        offboarding.save(update_fields=["status", "finished_at", "failure_reason", "report"])
        audit.record(
            "offboarding.incomplete",
            target=offboarding.audit_target,
            subject=offboarding.person_id,
            data={"email": offboarding.person.email, "reasons": [offboarding.failure_reason]},
        )
        transaction.on_commit(lambda: send_report(offboarding))
    return offboarding
