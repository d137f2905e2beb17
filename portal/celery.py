"""The Celery app. Every task gets `delay_on_commit` from DjangoTask."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender: Any = None, **_: Any) -> None:
    """Around each task, drop a database connection that broke or outlived CONN_MAX_AGE, as
    Django does around each web request, and keep a healthy one (CELERY_DB_REUSE_MAX stops
    Celery from closing it after every task, which cost a reconnect per task). An eager task
    runs inside its caller's transaction, which must not be touched."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
