"""The audit trail. Other apps write through `audit.record(...)` and read the latest event of
an action with `audit.last_event(...)`; this app imports none of ours."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audit.services import Actor, Subject


def record(
    action: str,
    *,
    actor: Actor = None,
    target: str = "",
    subject: Subject = None,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    correlation_id: str = "",
) -> Any:
    """`subject`: the person the event was done to (see `audit.services.audit_record`)."""
    from audit.services import audit_record

    return audit_record(
        action=action,
        actor=actor,
        target=target,
        subject=subject,
        data=data,
        ip=ip,
        correlation_id=correlation_id,
    )


def batch() -> Any:
    """`with audit.batch():` appends the events recorded inside together, at its end."""
    from audit.services import audit_batch

    return audit_batch()


def last_event(action: str) -> Any:
    """The newest event of `action`, or None."""
    from audit.selectors import latest_event

    return latest_event(action)
