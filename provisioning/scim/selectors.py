"""Reads for the SCIM pages: the tokens, and the leavers HR has still to confirm."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, QuerySet

from provisioning.models import LeaverNotice, Offboarding, ScimToken


def scim_tokens() -> QuerySet[ScimToken]:
    return ScimToken.objects.select_related("created_by", "revoked_by").order_by(
        F("revoked_at").desc(nulls_first=True), "name"
    )


def leaver_notices_open() -> QuerySet[LeaverNotice]:
    """Notices whose person has no offboarding started since: HR has still to confirm."""
    offboarded_since = Offboarding.objects.filter(
        person=OuterRef("person"), started_at__gte=OuterRef("received_at")
    ).exclude(status=Offboarding.Status.DECLINED)
    return (
        LeaverNotice.objects.select_related("person")
        .annotate(offboarded=Exists(offboarded_since))
        .filter(offboarded=False)
        .order_by("-received_at", "-pk")
    )
