"""Re-enqueueing teardowns whose task was lost or whose worker died (beat)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import audit
from provisioning import queue
from provisioning.offboarding.selectors import stuck_offboardings

logger = logging.getLogger(__name__)


def stuck_offboardings_sweep(
    *, now: datetime | None = None, enqueue: Callable[[int], Any] | None = None
) -> list[int]:
    """Re-enqueue stuck teardowns. A duplicate of a live run is harmless: the teardown holds
    a lock per offboarding and resumes from its recorded steps."""
    enqueue = enqueue or queue.teardown_now
    swept = []
    for pk, status, person_id in stuck_offboardings(now=now).values_list(
        "pk", "status", "person_id"
    )[:500]:
        try:
            enqueue(pk)
        except Exception:
            logger.warning("Could not enqueue offboarding %s; the next sweep retries.", pk)
            break
        audit.record(
            "offboarding.requeued",
            target=f"offboarding:{pk}",
            subject=person_id,
            data={"was": status},
        )
        swept.append(pk)
    if swept:
        logger.info("Re-enqueued %d stuck offboardings: %s", len(swept), swept)
    return swept
