"""A reminder, warning or cut recorded once (GuardrailNotice's unique key), with its audit row,
and its email sent after the commit. A job that runs again finds the notice and sends nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

import audit
from provisioning.guardrails.models import GuardrailNotice
from provisioning.models import IamAccount

logger = logging.getLogger(__name__)


def notice_once(
    *,
    account: IamAccount,
    kind: str,
    key: str,
    credential: str,
    action: str,
    data: dict[str, Any],
    email: Callable[[], None],
) -> bool:
    """Record the notice and its audit row, then email; False when it was recorded before.
    An email that fails takes its notice back with it, so the next run tries again."""
    if GuardrailNotice.objects.filter(key=key).exists():
        return False
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    try:
        with transaction.atomic():
            notice = GuardrailNotice.objects.create(
                iam_account=account, kind=kind, key=key, credential=credential, data=data
            )
            audit.record(
                action,
                target=f"iam_account:{account.pk}",
                subject=account.owner_id,
                data={"iam_user": account.user_name, "credential": credential, **data},
            )
    except IntegrityError:
        return False
    try:
        email()
    except OSError:
        logger.exception("Could not send the %s email for %s; the next run retries", kind, key)
        GuardrailNotice.objects.filter(pk=notice.pk).delete()
    return True
