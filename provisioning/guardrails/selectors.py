"""Reads for the guardrails' pages, each at a constant number of queries however many rows
it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from provisioning.guardrails.models import (
    ComplianceSnapshot,
    DriftFinding,
    GuardrailNotice,
    GuardrailRun,
    KeyAgeExtension,
    KeyRotation,
    MfaEnrolment,
)
from provisioning.models import AccessKeyRecord, AccessRequest, IamAccount

HISTORY_POINTS = 30


def credentials_of(person: User) -> QuerySet[IamAccount]:
    """The person's live IAM users with their portal keys, MFA set-up and open rotation."""
    return with_credentials(
        IamAccount.objects.filter(owner=person, status=IamAccount.Status.ACTIVE)
    ).order_by("user_name")


def with_credentials(accounts: QuerySet[IamAccount]) -> QuerySet[IamAccount]:
    """`accounts`, each with `mfa_enabled`, `access_type_now`, `live_keys` and
    `open_rotations`: what "Credentials you have now" shows."""
    return accounts.annotate(
        mfa_enabled=Exists(
            MfaEnrolment.objects.filter(
                iam_account=OuterRef("pk"), status=MfaEnrolment.Status.ENABLED
            )
        ),
        # What the portal last provisioned, until the daily run has looked in AWS.
        access_type_now=Subquery(
            AccessRequest.objects.filter(
                iam_account=OuterRef("pk"), status=AccessRequest.Status.ACTIVE
            )
            .order_by("-provisioned_at", "-pk")
            .values("access_type")[:1]
        ),
    ).prefetch_related(
        Prefetch(
            "access_keys",
            queryset=AccessKeyRecord.objects.filter(deleted_at__isnull=True).order_by("created_at"),
            to_attr="live_keys",
        ),
        Prefetch(
            "key_rotations",
            queryset=KeyRotation.objects.filter(status__in=KeyRotation.OPEN_STATUSES),
            to_attr="open_rotations",
        ),
    )


def mfa_enabled_for(iam_account_id: int) -> bool:
    """Whether the portal enrolled an MFA device for this IAM user (the reveal page asks)."""
    return MfaEnrolment.objects.filter(
        iam_account_id=iam_account_id, status=MfaEnrolment.Status.ENABLED
    ).exists()


def keys_for_review(query: str = "") -> QuerySet[AccessKeyRecord]:
    """Live portal keys, oldest first, with their last age notice and any extension."""
    keys = AccessKeyRecord.objects.filter(
        deleted_at__isnull=True, iam_account__status=IamAccount.Status.ACTIVE
    )
    query = query.strip()
    if query:
        keys = keys.filter(
            Q(iam_account__user_name__icontains=query)
            | Q(iam_account__owner__email__icontains=query)
            | Q(access_key_id__icontains=query)
        )
    notices = GuardrailNotice.objects.filter(credential=OuterRef("access_key_id")).order_by(
        "-created_at"
    )
    return (
        keys.select_related("iam_account__owner")
        .annotate(
            last_notice=Subquery(notices.values("kind")[:1]),
            extended_days=Subquery(
                KeyAgeExtension.objects.filter(access_key_id=OuterRef("access_key_id")).values(
                    "days"
                )[:1]
            ),
        )
        .order_by("created_at", "pk")
    )


def drift_findings(
    *, status: str = DriftFinding.Status.OPEN, query: str = ""
) -> QuerySet[DriftFinding]:
    findings = DriftFinding.objects.select_related("resolved_by")
    if status:
        findings = findings.filter(status=status)
    query = query.strip()
    if query:
        findings = findings.filter(Q(iam_user_name__icontains=query) | Q(subject__icontains=query))
    return findings.order_by("-last_seen_at", "-pk")


def drift_finding(pk: int) -> DriftFinding | None:
    return DriftFinding.objects.select_related("resolved_by").filter(pk=pk).first()


def latest_run(job: str) -> GuardrailRun | None:
    return GuardrailRun.objects.filter(job=job).order_by("-created_at", "-pk").first()


def latest_snapshot() -> ComplianceSnapshot | None:
    return ComplianceSnapshot.objects.order_by("-taken_at", "-pk").first()


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    score: int
    taken_at: datetime


@dataclass(frozen=True)
class ScoreChart:
    """The score history as an SVG polyline (server-rendered, no script)."""

    points: tuple[ChartPoint, ...]
    width: int = 600
    height: int = 160
    padding: int = 24
    # Room on the left for the 0-100% labels.
    left: int = 44

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in self.points)

    @property
    def grid(self) -> list[tuple[int, float]]:
        usable = self.height - 2 * self.padding
        return [(level, self.padding + usable * (1 - level / 100)) for level in (0, 50, 100)]


def score_chart(*, now: datetime | None = None) -> ScoreChart:
    snapshots = list(
        ComplianceSnapshot.objects.filter(taken_at__lte=now or timezone.now())
        .order_by("-taken_at", "-pk")
        .only("taken_at", "passed", "total")[:HISTORY_POINTS]
    )[::-1]
    chart = ScoreChart(points=())
    usable_x = chart.width - chart.left - chart.padding
    usable_y = chart.height - 2 * chart.padding
    step = usable_x / max(len(snapshots) - 1, 1)
    # A single check sits in the middle rather than on the axis.
    start = chart.left + (usable_x / 2 if len(snapshots) == 1 else 0)
    points = tuple(
        ChartPoint(
            x=start + index * step,
            y=chart.padding + usable_y * (1 - snapshot.score / 100),
            score=snapshot.score,
            taken_at=snapshot.taken_at,
        )
        for index, snapshot in enumerate(snapshots)
    )
    return ScoreChart(points=points)
