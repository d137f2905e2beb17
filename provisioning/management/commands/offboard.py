"""`manage.py offboard EMAIL --actor HR_EMAIL [--disable] [--wait [--json]]`: the same offboarding
as HR's Offboard button, for HR automation.

Without --wait the command does what the button does: the portal part at once, the AWS
teardown handed to the worker. With --wait it tears down in this process instead of the
worker, then prints the verification report and exits 0 when completed, 1 when incomplete: for
scripts that must know the result, and for machines with no worker running.

--actor is required: an offboarding is always on the authority of a named HR person, who must
hold the offboarding permission, as on the page."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.selectors import person_by_email
from provisioning import aws, queue
from provisioning.errors import OffboardingError
from provisioning.models import Offboarding
from provisioning.offboarding.report import offboarding_report_json, report_accounts
from provisioning.offboarding.start import offboarding_start
from provisioning.offboarding.teardown import offboarding_teardown


class Command(BaseCommand):
    help = (
        "Offboard a leaver: disable their portal account, end their sessions, cancel their "
        "open requests, then delete (or, with --disable, lock) their IAM users in AWS's order "
        "and verify nothing is left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the leaver's email")
        parser.add_argument(
            "--actor",
            metavar="EMAIL",
            required=True,
            help="the HR person on whose authority this runs (audited)",
        )
        parser.add_argument(
            "--disable",
            action="store_true",
            help="keep the IAM users for retention: no credentials, deny-all policy, tagged",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="tear down here rather than in the worker, then print the report",
        )
        parser.add_argument(
            "--json", action="store_true", help="with --wait: print the report as JSON"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        person = person_by_email(options["email"])
        if person is None:
            raise CommandError(f"No one in the directory has the email {options['email']}")
        actor = person_by_email(options["actor"])
        if actor is None:
            raise CommandError(f"--actor: no one in the directory has the email {options['actor']}")
        mode = Offboarding.Mode.DISABLE if options["disable"] else Offboarding.Mode.DELETE
        try:
            offboarding = offboarding_start(
                actor=actor, person=person, mode=mode, enqueue=not options["wait"]
            )
        except OffboardingError as error:
            raise CommandError(str(error)) from None
        if offboarding.status == Offboarding.Status.AWAITING_CONFIRMATION:
            self.stdout.write(
                f"Offboarding #{offboarding.pk} of {person.email} waits for a security admin's "
                "confirmation (a privileged person): nothing is cut until then."
            )
            return
        if not options["wait"]:
            self.stdout.write(
                f"Offboarding #{offboarding.pk} of {person.email} started: portal sign-in "
                "disabled; the worker is tearing down their IAM users."
            )
            return
        try:
            offboarding_teardown(offboarding_id=offboarding.pk)
        except aws.AwsError as error:
            # The steps done so far are recorded: the worker resumes from there.
            queue.teardown_now(offboarding.pk)
            raise CommandError(
                f"AWS failed during the teardown ({error}); handed to the worker to finish."
            ) from None
        offboarding.refresh_from_db()
        self.stdout.write(
            offboarding_report_json(offboarding=offboarding)
            if options["json"]
            else self._summary(offboarding)
        )
        if offboarding.status != Offboarding.Status.COMPLETED:
            raise CommandError(f"Offboarding incomplete: {offboarding.failure_reason}")

    def _summary(self, offboarding: Offboarding) -> str:
        portal = offboarding.report.get("portal", {})
        lines = [
            f"Offboarding #{offboarding.pk} of {offboarding.person.email}: "
            f"{offboarding.get_status_display().lower()} ({offboarding.mode})",
            f"Portal: sign-in disabled, {portal.get('sessions_ended', 0)} session(s) ended, "
            f"{len(portal.get('requests_cancelled', []))} request(s) cancelled, "
            f"{portal.get('links_revoked', 0)} credential link(s) revoked",
        ]
        for moved in portal.get("reports_moved", []):
            lines.append(
                f"Report {moved['email']} now reports to {moved['new_manager'] or 'no one'}: "
                "give them a permanent manager"
            )
        for entry in report_accounts(offboarding.report):
            lines.append(f"IAM user {entry['user_name']}: {entry.get('outcome', 'not verified')}")
            for kind in entry["kinds"]:
                lines.append(
                    f"  {kind['label']}: found {kind['found']}, "
                    f"removed {kind['removed']}, remaining {kind['remaining']}"
                )
        if not offboarding.report.get("accounts"):
            lines.append("No IAM users.")
        return "\n".join(lines)
