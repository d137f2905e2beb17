"""The worker refuses to start with the account's root credentials, as the web's system check
does: provisioning with root keys would be the very practice this portal exists to end."""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import WorkerShutdown
from celery.signals import worker_init

from provisioning import aws

logger = logging.getLogger(__name__)


def refuse_root_credentials() -> None:
    """Raise WorkerShutdown when AWS says we are the root user; only warn when unreachable."""
    try:
        identity = aws.whoami(quick=True)
    except aws.AwsError as error:
        logger.warning(
            "AWS could not be reached to check the worker's credentials (%s)", error.code
        )
        return
    if identity.is_root:
        logger.critical(
            "The worker's AWS credentials are the account root (%s): refusing to start. "
            "Give the portal an IAM role or user with only the IAM permissions it needs.",
            identity.arn,
        )
        raise WorkerShutdown("root credentials refused")


@worker_init.connect(dispatch_uid="provisioning.refuse_root_credentials")
def _on_worker_init(**kwargs: Any) -> None:
    refuse_root_credentials()
