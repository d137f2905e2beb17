from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Access provisioning"

    def ready(self) -> None:
        from accounts.events import org_chart_changed
        from provisioning import (
            checks,  # noqa: F401  (registers the AWS system checks)
            tasks,  # noqa: F401  (registers the tasks with provisioning.queue, in every process)
            worker_guard,  # noqa: F401  (the worker refuses root credentials at start)
        )
        from provisioning.requests.reroute import on_org_chart_changed

        # A requester's new manager re-routes their undecided requests.
        org_chart_changed.connect(on_org_chart_changed, dispatch_uid="provisioning.reroute")
