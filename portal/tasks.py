from __future__ import annotations

from celery import shared_task

from portal.health import health_refresh


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def refresh_health() -> None:
    """Keep /healthz's snapshot fresh while nobody probes (portal/health.py)."""
    health_refresh()
