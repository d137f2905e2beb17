"""The audit trail. Other apps write through `audit.record(...)`; this app imports none of ours."""

from __future__ import annotations

from typing import Any


def record(
    action: str,
    *,
    actor: Any = None,
    target: str = "",
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    correlation_id: str = "",
) -> Any:
    from audit.services import audit_record

    return audit_record(
        action=action, actor=actor, target=target, data=data, ip=ip, correlation_id=correlation_id
    )
