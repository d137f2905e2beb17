"""`manage.py access_expire [--as-of YYYY-MM-DD] [--dry-run]`: end every grant past its end.

The beat job does this every LIFECYCLE_SWEEP_SECONDS; the command is for an operator: to see
what is due (`--dry-run`), or to end what will be past its end by a date (`--as-of`). The
removal from IAM is the worker's, enqueued for each grant ended."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from provisioning.lifecycle.expiry import grants_expire
from provisioning.models import Grant


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {value!r}") from None


def _line(grant: Grant) -> str:
    end = (
        f"{timezone.localtime(grant.ends_at):%Y-%m-%d %H:%M}"
        if grant.ends_at
        else f"{grant.ends_on:%Y-%m-%d}"
    )
    return (
        f"grant {grant.pk}: {grant.iam_account.owner.email} {grant.role_group.name} "
        f"(IAM user {grant.iam_account.user_name}, group {grant.role_group.iam_group_name}), "
        f"end {end}"
    )


class Command(BaseCommand):
    help = "End every grant whose end has passed (or will have, by --as-of)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=_date, help="End what has ended by this date.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would end; change nothing."
        )

    def handle(
        self, *args: Any, as_of: date | None = None, dry_run: bool = False, **_: Any
    ) -> None:
        grants = grants_expire(as_of=as_of, dry_run=dry_run)
        when = f"as of {as_of:%Y-%m-%d}" if as_of else "now"
        verb = "Would expire" if dry_run else "Expired"
        for grant in grants:
            self.stdout.write(f"{verb} {_line(grant)}")
        if dry_run:
            self.stdout.write(
                f"Dry run {when}: {len(grants)} grant(s) would expire; nothing changed."
            )
        else:
            self.stdout.write(
                f"{len(grants)} grant(s) expired {when}; the worker removes them from IAM."
            )
