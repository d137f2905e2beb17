"""Handing work to the worker, without any service importing the tasks module.

The tasks (provisioning/tasks.py) are thin: they import the services and call them. Services
that need the worker enqueue through these functions instead, and the tasks module registers
itself here when it is imported (ProvisioningConfig.ready imports it in every process: web,
worker and commands). So no import, not even a lazy one, runs from a service back to the
tasks, and the two can never form a cycle.
"""

from __future__ import annotations

from typing import Any, Protocol


class Job(Protocol):
    def delay(self, *args: Any) -> Any: ...

    def delay_on_commit(self, *args: Any) -> None: ...

    def apply_async(self, args: tuple[Any, ...] | None = ..., *, priority: int = ...) -> Any: ...


PROVISION = "provision"
TEARDOWN = "teardown"
CUT_ACCESS = "cut_access"
END_GRANTS = "end_grants"
REVIEW_START = "review_start"

# Redis hands out a queue's messages by priority, 0 first (kombu's priority steps 0, 3, 6, 9;
# a message with none is 0). Work that can wait goes behind everything else.
LATER = 9

_jobs: dict[str, Job] = {}


def register(name: str, job: Job) -> None:
    _jobs[name] = job


def _job(name: str) -> Job:
    try:
        return _jobs[name]
    except KeyError:
        raise RuntimeError(
            f"no task registered for {name!r}: provisioning.tasks was never imported"
        ) from None


def provision_on_commit(request_id: int) -> None:
    """Provision the request once the caller's transaction commits (never raises if the
    broker is down: the sweeper enqueues it later)."""
    _job(PROVISION).delay_on_commit(request_id)


def provision_now(request_id: int) -> None:
    """Enqueue at once (outside any transaction: the sweeper). Raises if the broker is down."""
    _job(PROVISION).delay(request_id)


def teardown_on_commit(offboarding_id: int) -> None:
    """Cut the leaver's access first, then tear the rest down (offboarding_cut_access). The
    cut task is routed to the urgent queue (settings.CELERY_TASK_ROUTES)."""
    _job(CUT_ACCESS).delay_on_commit(offboarding_id)


def teardown_now(offboarding_id: int) -> None:
    """The rest of a teardown, after its cut: behind every cut still queued (a rest already
    running is not stopped for a cut that arrives after it)."""
    _job(TEARDOWN).apply_async((offboarding_id,), priority=LATER)


# --- Guardrails (issue 11) ------------------------------------------------------------------

ROTATE_KEY = "rotate_key"
GUARDRAIL_RUN = "guardrail_run"


def rotate_key_on_commit(rotation_id: int) -> None:
    _job(ROTATE_KEY).delay_on_commit(rotation_id)


def rotate_key_now(rotation_id: int) -> None:
    _job(ROTATE_KEY).delay(rotation_id)


def guardrail_run_on_commit(run_id: int) -> None:
    _job(GUARDRAIL_RUN).delay_on_commit(run_id)


def guardrail_run_now(run_id: int) -> None:
    _job(GUARDRAIL_RUN).delay(run_id)


# --- Access over time (provisioning/lifecycle) ---------------------------------------------


def end_grants_on_commit(grant_ids: list[int]) -> None:
    """Remove ending grants from IAM once the caller's transaction commits (never raises if
    the broker is down: the lifecycle sweep enqueues them later)."""
    _job(END_GRANTS).delay_on_commit(grant_ids)


def end_grants_now(grant_ids: list[int]) -> None:
    _job(END_GRANTS).delay(grant_ids)


def review_start_on_commit(campaign_id: int) -> None:
    """Email a new campaign's reviewers and read its holders' last AWS activity."""
    _job(REVIEW_START).delay_on_commit(campaign_id)
