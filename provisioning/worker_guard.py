"""The worker refuses to start with the account's root credentials, as the web's system check
does: provisioning with root keys would be the very practice this portal exists to end. It
also warms up before work arrives: the parent loads the AWS service models before it forks
its pool, and each pool process connects to the database and builds its IAM client."""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import WorkerShutdown
from celery.signals import worker_init, worker_process_init
from django.db import connection

from provisioning import aws

logger = logging.getLogger(__name__)


def root_credentials_arn() -> str:
    """The root ARN when AWS says the portal's credentials are the account root, else "".
    An unreachable AWS only warns: the work retries, and the check runs again at the next
    start."""
    try:
        identity = aws.whoami(quick=True)
    except aws.AwsError as error:
        logger.warning(
            "AWS could not be reached to check the portal's credentials (%s)", error.code
        )
        return ""
    return identity.arn if identity.is_root else ""


def refuse_root_credentials() -> None:
    """Raise WorkerShutdown when AWS says we are the root user; only warn when unreachable."""
    arn = root_credentials_arn()
    if arn:
        logger.critical(
            "The worker's AWS credentials are the account root (%s): refusing to start. "
            "Give the portal an IAM role or user with only the IAM permissions it needs.",
            arn,
        )
        raise WorkerShutdown("root credentials refused")


@worker_init.connect(dispatch_uid="provisioning.refuse_root_credentials")
def _on_worker_init(**kwargs: Any) -> None:
    refuse_root_credentials()
    aws.warm()


@worker_process_init.connect(dispatch_uid="provisioning.warm_pool_process")
def _on_worker_process_init(**kwargs: Any) -> None:
    """Each pool process opens its database connection and builds its IAM client as it
    starts, not on its first task: that task may be a leaver's cut, which HR waits on."""
    aws.client("iam")
    connection.ensure_connection()
