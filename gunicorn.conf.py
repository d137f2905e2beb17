"""gunicorn's configuration for the web process (docker-compose runs `gunicorn -c
gunicorn.conf.py portal.wsgi:application`): no credential token in the access log, and no
serving at all with the AWS account's root credentials, as the worker refuses them too."""

from __future__ import annotations

import os
from typing import Any

logger_class = "portal.gunicorn_logging.RedactingLogger"
accesslog = "-"


def on_starting(server: Any) -> None:
    """Before any worker forks: stop when AWS says the portal's credentials are root."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from provisioning.worker_guard import root_credentials_arn

    arn = root_credentials_arn()
    if arn:
        raise SystemExit(
            f"Refusing to serve: the portal's AWS credentials are the account root ({arn}). "
            "Give it an IAM role or user with only the IAM permissions it needs."
        )
    warm_task_queue()


def warm_task_queue() -> None:
    """Load, before the workers fork, what each worker's first enqueue would otherwise load
    in the middle of a request: Celery's task registry and the broker's transport module
    (~30 ms measured, 19 and 11, paid by the first confirm or request after a start and by
    every request queued behind it on that worker). No connection is opened: each worker
    makes its own."""
    from portal.celery import app

    app.finalize(auto=True)
    app.connection_for_write().release()


def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the portal: its loop runs on a chunk of Python's frame
    stack of its own (common/stack.py: on CPython 3.11 calls where a chunk ends map and
    unmap one each time, 146 times in an audit page's request), and what it loaded
    (Django, the URL conf, the templates, ~200,000 objects) goes out of the garbage
    collector's sight. A full collection walked them all, 60-120 ms in the middle of a
    request every hundred or so: the pages' slowest twentieth."""
    import functools
    import gc

    from common.stack import run_with_room

    worker.run = functools.partial(run_with_room, worker.run)
    gc.collect()
    gc.freeze()
