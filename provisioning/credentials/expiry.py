"""Expired, uncollected links: their secrets wiped and their access keys switched off.

A link nobody revealed before it expired still held a sealed password or secret key, and its
access key was live in AWS with nobody holding it. The sweeper (beat, hourly) wipes the
sealed values, deactivates the key in AWS, and tells the person and the security admins, who
can re-issue. Each link is claimed with a conditional UPDATE; a key AWS would not deactivate
is tried again at the next sweep."""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import audit
from accounts.selectors import security_admin_emails
from common.emails import send_templated_email
from provisioning import aws
from provisioning.credentials.links import link_target
from provisioning.models import AccessKeyRecord, CredentialLink

logger = logging.getLogger(__name__)


def _expired_uncollected(now: datetime) -> Q:
    return Q(
        issued_at__isnull=False,
        revealed_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__lte=now,
    )


def uncollected_links_sweep(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Wipe and switch off every expired, uncollected link. Returns the links handled."""
    now = now or timezone.now()
    handled = []
    to_wipe = CredentialLink.objects.filter(_expired_uncollected(now), wiped_at__isnull=True)
    for pk in to_wipe.order_by("pk").values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            claimed = CredentialLink.objects.filter(pk=pk, wiped_at__isnull=True).update(
                wiped_at=now, sealed_password=None, sealed_secret_key=None
            )
            if claimed != 1:
                continue
            link = CredentialLink.objects.select_related("recipient", "iam_account").get(pk=pk)
            audit.record(
                "credential.expired",
                target=link_target(link),
                subject=link.recipient_id,
                data={"link": link.pk, "access_key_id": link.access_key_id or None},
            )
            transaction.on_commit(functools.partial(_tell, link), robust=True)
        handled.append(pk)
    keys_left = CredentialLink.objects.filter(
        _expired_uncollected(now), wiped_at__isnull=False, key_deactivated_at__isnull=True
    ).exclude(access_key_id="")
    for link in keys_left.select_related("iam_account").order_by("pk")[:limit]:
        _deactivate_key(link, now=now)
    return handled


def _deactivate_key(link: CredentialLink, *, now: datetime) -> None:
    try:
        with aws.recording() as calls:
            aws.deactivate_access_key(link.iam_account.user_name, link.access_key_id)
    except aws.AwsError as error:
        logger.warning("link %s: AWS would not deactivate its key (%s); next sweep", link.pk, error)
        return
    with transaction.atomic():
        AccessKeyRecord.objects.filter(access_key_id=link.access_key_id).update(active=False)
        if (
            CredentialLink.objects.filter(pk=link.pk, key_deactivated_at__isnull=True).update(
                key_deactivated_at=now
            )
            != 1
        ):
            return
        audit.record(
            "iam.access_key.deactivated",
            target=link_target(link),
            subject=link.recipient_id,
            data={
                "iam_user": link.iam_account.user_name,
                "access_key_id": link.access_key_id,
                "reason": "its credential link expired uncollected",
                "aws_request_ids": calls.request_ids,
            },
        )


def _tell(link: CredentialLink) -> None:
    context = {"link": link}
    send_templated_email("credential_link_expired", [link.recipient.email], context)
    send_templated_email("credential_link_expired_admins", security_admin_emails(), context)
