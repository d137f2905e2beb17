"""The writes of sign-in through the identity provider, each with its audit row: a person
created just in time, an IdP identity linked to a person, a refused IdP sign-in, and a
break-glass password sign-in (emailed to the other security admins)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

import audit
from accounts import roles
from accounts.models import User
from accounts.selectors import security_admin_emails
from accounts.services import mark_placed, record_person_created
from common.emails import send_templated_email

VIA_SSO = "sso"


def sso_actor(provider_id: str) -> str:
    """The identity provider as the audit trail names it: it is not a person."""
    return f"sso:{provider_id}"


def sso_person_created(*, person: User, provider_id: str, ip: str | None = None) -> None:
    """A person the identity provider vouched for, created at their first sign-in: an
    employee and nothing more (every role is granted in the portal)."""
    with transaction.atomic():
        mark_placed(person, actor=None)
        person.save(update_fields=["placed_by", "placed_at"])
        person.groups.add(Group.objects.get(name=roles.EMPLOYEES))
        record_person_created(
            actor=sso_actor(provider_id), person=person, manager_email="", via=VIA_SSO, ip=ip
        )


def sso_identity_linked(*, person: User, provider_id: str, uid: str, ip: str | None = None) -> None:
    """An IdP identity was linked to the person with its verified email, at its first use."""
    audit.record(
        "auth.sso_linked",
        actor=person,
        target=person.audit_target,
        data={"provider": provider_id, "subject": uid[:200], "email": person.email},
        ip=ip,
    )


def sso_sign_in_refused(
    *, provider_id: str, email: str, reason: str, ip: str | None = None
) -> None:
    audit.record(
        "auth.sso_refused",
        actor=sso_actor(provider_id),
        data={"provider": provider_id, "email": email[:254], "reason": reason},
        ip=ip,
    )


def break_glass_signed_in(*, person: User, ip: str | None = None) -> None:
    """A security admin on the break-glass list signed in with a password while sign-in
    goes through the identity provider only: recorded, and every other security admin is
    emailed at once."""
    at = timezone.now()
    audit.record(
        "auth.break_glass_sign_in",
        actor=person,
        target=person.audit_target,
        data={"email": person.email},
        ip=ip,
    )
    send_templated_email(
        "break_glass_sign_in",
        security_admin_emails(excluding=(person.pk,)),
        {
            "person": person,
            "at": at,
            "ip": ip,
            "audit_url": f"{settings.PORTAL_BASE_URL}{reverse('audit_log')}",
        },
    )
