"""A leaver the identity provider announces (`active: false`, or DELETE).

Their portal account closes at once, whatever SCIM_LEAVERS says. Then either the offboarding
starts as HR's one click would (`offboard`), or HR is asked to confirm it (`confirm`): a
notice, a banner on HR's pages and an email ("the identity provider says X has left").
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse

import audit
from accounts.models import User
from accounts.selectors import hr_emails
from accounts.services import person_deactivate
from common.emails import send_templated_email
from provisioning.models import LeaverNotice
from provisioning.offboarding.start import offboarding_start_for_leaver

OFFBOARD = "offboard"
CONFIRM = "confirm"


def person_left(*, person: User, source: str, reason: str, ip: str | None = None) -> None:
    """In the caller's transaction (the SCIM request's)."""
    if settings.SCIM_LEAVERS == OFFBOARD:
        offboarding_start_for_leaver(
            source=source, person=person, mode=settings.SCIM_OFFBOARDING_MODE, ip=ip
        )
        return
    person_deactivate(person=person, actor=source, ip=ip)
    notice = LeaverNotice.objects.create(person=person, source=source, reason=reason)
    audit.record(
        "person.left_per_identity_provider",
        actor=source,
        target=person.audit_target,
        data={"email": person.email, "reason": reason, "awaits": "HR's confirmation"},
        ip=ip,
    )
    transaction.on_commit(lambda: _tell_hr(notice), robust=True)


def _tell_hr(notice: LeaverNotice) -> None:
    url = reverse("offboard_person", args=[notice.person_id])
    send_templated_email(
        "idp_leaver",
        hr_emails(),
        {
            "notice": notice,
            "person": notice.person,
            "url": f"{settings.PORTAL_BASE_URL}{url}",
            "leavers_url": f"{settings.PORTAL_BASE_URL}{reverse('idp_leavers')}",
        },
    )
