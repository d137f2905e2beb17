"""The offboarding report: labels, the email, and the evidence for download (JSON, CSV)."""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from accounts.selectors import hr_emails, security_admin_emails
from common.csv import SafeWriter
from common.emails import send_templated_email
from provisioning import aws
from provisioning.models import Offboarding

KIND_LABELS = {
    "login_profile": "Console password",
    "access_keys": "Access keys",
    "signing_certificates": "Signing certificates",
    "ssh_public_keys": "SSH public keys",
    "service_specific_credentials": "Service-specific credentials",
    "mfa_devices": "MFA devices",
    "inline_policies": "Inline policies",
    "attached_policies": "Attached policies",
    "groups": "Group memberships",
    "permissions_boundary": "Permissions boundary",
    "user": "IAM user",
}


def unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def report_accounts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's IAM users with their kinds labelled and in teardown order, for pages and
    emails (templates cannot look labels up by key)."""
    order = [*aws.CREDENTIAL_KINDS, "user"]
    return [
        {
            **entry,
            "kinds": [
                {"kind": kind, "label": KIND_LABELS[kind], **entry["kinds"][kind]}
                for kind in order
                if kind in entry.get("kinds", {})
            ],
        }
        for entry in report.get("accounts", [])
    ]


def send_report(offboarding: Offboarding) -> None:
    context = {
        "offboarding": offboarding,
        "person": offboarding.person,
        "report": offboarding.report,
        "accounts": report_accounts(offboarding.report),
        "url": f"{settings.PORTAL_BASE_URL}{reverse('offboarding_detail', args=[offboarding.pk])}",
    }
    hr = hr_emails()
    send_templated_email("offboarding_report", hr, context)
    if offboarding.status == Offboarding.Status.INCOMPLETE:
        send_templated_email("offboarding_incomplete", [*hr, *security_admin_emails()], context)


CSV_COLUMNS = (
    "offboarding",
    "person",
    "mode",
    "status",
    "iam_user",
    "outcome",
    "kind",
    "found",
    "removed",
    "remaining",
)


def offboarding_report_json(*, offboarding: Offboarding) -> str:
    document = {
        "offboarding": offboarding.pk,
        "person": offboarding.person.email,
        "mode": offboarding.mode,
        "status": offboarding.status,
        "started_by": offboarding.started_by_label,
        "started_at": offboarding.started_at,
        "access_cut_at": offboarding.access_cut_at,
        "finished_at": offboarding.finished_at,
        "failure_reason": offboarding.failure_reason,
        "steps_done": offboarding.steps_done,
        **{k: v for k, v in offboarding.report.items() if k not in ("found", "cut")},
    }
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2, sort_keys=True)


def offboarding_report_csv(*, offboarding: Offboarding) -> str:
    """One row per IAM user and credential kind: found, removed, remaining."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    for entry in offboarding.report.get("accounts", []):
        for kind, counts in entry.get("kinds", {}).items():
            writer.writerow(
                [
                    offboarding.pk,
                    offboarding.person.email,
                    offboarding.mode,
                    offboarding.status,
                    entry["user_name"],
                    entry.get("outcome", "not verified"),
                    kind,
                    counts["found"],
                    counts["removed"],
                    counts["remaining"],
                ]
            )
    return out.getvalue()
