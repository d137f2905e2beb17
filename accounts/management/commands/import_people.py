"""`manage.py import_people FILE`: the same all-or-nothing import as HR's upload form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import ImportRejected, PeopleError
from accounts.people_import import people_import
from accounts.selectors import person_by_email


class Command(BaseCommand):
    help = (
        "Create or update people from a CSV file (email, full_name, department, manager_email; "
        "header row required). All or nothing: any bad row and nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument(
            "--actor",
            metavar="EMAIL",
            default="",
            help="the HR person running the import, for the audit trail (default: system)",
        )

    def handle(self, *args: Any, file: Path, actor: str, **options: Any) -> None:
        try:
            content = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        person = None
        if actor:
            person = person_by_email(actor)
            if person is None:
                raise CommandError(f"--actor: no one in the directory has the email {actor}")
        try:
            result = people_import(actor=person, content=content, source=file.name)
        except ImportRejected as rejected:
            for problem in rejected.problems:
                self.stderr.write(str(problem))
            raise CommandError(str(rejected)) from None
        except PeopleError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(result.summary())
