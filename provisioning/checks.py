"""System checks: the portal refuses to run with the account's root credentials."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register

from provisioning import aws


@register("aws", Tags.security)
def aws_credentials_are_not_root(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    try:
        identity = aws.whoami(quick=True)
    except aws.AwsError as error:
        return [
            Warning(
                f"AWS could not be reached to check the portal's credentials ({error.code}).",
                hint="Provisioning will retry; check AWS_ENDPOINT_URL, the network and "
                "the credentials.",
                id="provisioning.W001",
            )
        ]
    if identity.is_root:
        return [
            Error(
                f"The portal's AWS credentials are the account root ({identity.arn}).",
                hint="Never use root credentials. Create an IAM role or user for the portal "
                "with only the IAM permissions it needs.",
                id="provisioning.E001",
            )
        ]
    return []
