"""`manage.py sync_catalogue`: create or update the catalogue's IAM groups and policies."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from provisioning import aws
from provisioning.catalogue.services import catalogue_sync


class Command(BaseCommand):
    help = (
        "Create or update, in AWS, the IAM group of every active role-group with its managed "
        "policies and the portal's MFA policy. Safe to run again: prints what it changed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            changes = catalogue_sync()
        except aws.AwsError as error:
            raise CommandError(f"Sync stopped: {error}") from None
        if not changes:
            self.stdout.write("Nothing changed: AWS already matches the catalogue.")
            return
        for change in changes:
            self.stdout.write(f"  {change}")
        self.stdout.write(self.style.SUCCESS(f"{len(changes)} change(s) made in AWS."))
