from __future__ import annotations

from celery import shared_task

from portal.health import health_refresh


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def refresh_health() -> None:
    """Keep /healthz's snapshot fresh while nobody probes (portal/health.py)."""
    health_refresh()


@shared_task(ignore_result=True)
def clear_expired_sessions() -> int:
    """Beat, hourly: delete the sessions past their expiry (Django's `clearsessions`), so the
    session table holds only the signed-in. Returns how many are left."""
    from accounts.models import PortalSession
    from accounts.sessions import SessionStore

    SessionStore.clear_expired()
    return PortalSession.objects.count()
