from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.anchors import anchor_problem, parse_anchors
from audit.models import AuditEvent
from audit.services import audit_verify


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's MAC chain; exit non-zero at the first broken row. With "
        "--anchors, also check it against the anchors published outside the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="processes to split the trail among (default: one per CPU)",
        )
        parser.add_argument(
            "--anchors",
            metavar="FILE",
            type=Path,
            help="a log export holding AUDIT-ANCHOR lines (audit/anchors.py)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        broken = audit_verify(workers=options["workers"])
        if broken is not None:
            raise CommandError(
                f"audit trail broken at row {broken.pk} ({broken.action} at "
                f"{broken.created_at:%Y-%m-%d %H:%M:%S}): it or a row before it was changed"
            )
        rows = AuditEvent.objects.count()
        if options["anchors"] is None:
            self.stdout.write(
                f"audit trail intact: {rows} rows verified (without anchors, a deleted tail "
                "would not show: pass --anchors)"
            )
            return
        try:
            with options["anchors"].open(encoding="utf-8") as lines:
                anchors = list(parse_anchors(lines))
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(
                f"cannot read the anchors in {options['anchors']}: {error}"
            ) from None
        if not anchors:
            raise CommandError(f"no AUDIT-ANCHOR lines in {options['anchors']}")
        for anchor in anchors:
            problem = anchor_problem(anchor)
            if problem:
                raise CommandError(f"audit trail does not match its anchors: {problem}")
        self.stdout.write(
            f"audit trail intact: {rows} rows verified, {len(anchors)} anchors matched "
            f"(the latest at row {anchors[-1].head_id})"
        )
