from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "IAM Access Portal"

    def ready(self) -> None:
        from common.logging import install_record_redaction

        # Before anything logs a path: no credential-link token in any log line.
        install_record_redaction()
