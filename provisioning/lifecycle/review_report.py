"""A campaign's evidence for an auditor (SOC 2 CC6.2/CC6.3, ISO 27001 A.5.18): every grant
reviewed, by whom, when, the decision and its reason, and the holder's last AWS activity; as
CSV (cells neutralised against formulas) and as a print-friendly page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.utils import timezone

from common.csv import csv_text
from provisioning.lifecycle import selectors
from provisioning.models import AccessReview, ReviewItem

HEADER = (
    "review",
    "deadline",
    "holder",
    "holder email",
    "IAM user",
    "role-group",
    "sensitive",
    "granted at",
    "ends on",
    "reviewer",
    "route",
    "decision",
    "decided by",
    "decided at",
    "reason",
    "console last sign-in",
    "access key last used",
    "access key last service",
    "activity read at",
    "grant now",
)


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _reviewer(item: ReviewItem) -> str:
    return item.reviewer.email if item.reviewer else "security admins"


def report_rows(campaign: AccessReview) -> Iterator[list[Any]]:
    for item in selectors.campaign_items(campaign).iterator(chunk_size=500):
        grant = item.grant
        yield [
            campaign.name,
            campaign.deadline.isoformat(),
            item.holder.get_full_name(),
            item.holder.email,
            grant.iam_account.user_name,
            grant.role_group.name,
            "yes" if grant.role_group.sensitive else "no",
            _when(grant.granted_at),
            grant.ends_on.isoformat() if grant.ends_on else "",
            _reviewer(item),
            item.get_route_display(),
            item.get_decision_display(),
            item.decided_by.email if item.decided_by else ("system" if item.decided_at else ""),
            _when(item.decided_at),
            item.reason,
            _when(item.console_last_used) or ("never" if item.activity_checked_at else ""),
            _when(item.access_key_last_used) or ("never" if item.activity_checked_at else ""),
            item.access_key_last_service,
            _when(item.activity_checked_at),
            grant.get_state_display()
            + (f" ({grant.get_end_display().lower()})" if grant.end else ""),
        ]


def access_review_report_csv(campaign: AccessReview) -> str:
    return csv_text(HEADER, report_rows(campaign))
