from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import audit_verify


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain; exit non-zero at the first broken row."

    def handle(self, *args: Any, **options: Any) -> None:
        broken = audit_verify()
        if broken is not None:
            raise CommandError(
                f"audit trail broken at row {broken.pk} ({broken.action} at "
                f"{broken.created_at:%Y-%m-%d %H:%M:%S}): it or a row before it was changed"
            )
        self.stdout.write(f"audit trail intact: {AuditEvent.objects.count()} rows verified")
