"""A real Celery worker in a subprocess, for tests about the worker.

The worker runs `celery -A portal worker` with the test settings, pointed at the *test*
database (pytest-django's name for it), the test's Redis and a moto server, with its emails
written to an outbox folder the test reads. Use with `django_db(transaction=True)` so the
worker sees committed rows.

    with running_worker(moto_url=aws_server, redis_url=redis_url, outbox=tmp_path) as worker:
        ...
        worker.kill()          # SIGKILL the whole worker, mid-task
        worker.start()         # and bring it back
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("a worker subprocess needs Postgres (use the postgres_required fixture)")
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    # pytest-django has renamed NAME to the test database by now.
    return f"postgres://{user}@{host}:{port}/{connection.settings_dict['NAME']}"


class WorkerProcess:
    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        concurrency: int,
        beat: bool,
        queues: str | None = None,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.beat = beat
        self.queues = queues
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        name = f"test-{uuid.uuid4().hex[:8]}@%h"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-l",
            "INFO",
            "-n",
            name,
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            "--without-mingle",
            "--without-gossip",
            "--prefetch-multiplier=1",
        ]
        if self.beat:
            command += ["-B", "-s", str(self.log_path.parent / "celerybeat-schedule")]
        if self.queues:
            command += ["-Q", self.queues]
        log = self.log_path.open("ab")
        log.write(f"\n=== start {self.starts} ===\n".encode())
        log.flush()
        offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as handle:
                handle.seek(offset)
                if b" ready." in handle.read():
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.log()}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not in the worker log after {timeout}s:\n{self.log()}")


def purge_queue() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        app.control.purge(connection=conn)


@contextmanager
def real_broker() -> Iterator[None]:
    """Make this test process enqueue to the broker for real (tests are eager by default)."""
    from portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


@contextmanager
def broker_down() -> Iterator[None]:
    """This process's Celery publishes, for real, to a port nothing listens on (fails at once)."""
    import socket

    from portal.celery import app

    def reset_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    previous = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port}/0"
    reset_pools()
    try:
        with real_broker():
            yield
    finally:
        app.conf.broker_url = previous
        reset_pools()


@contextmanager
def running_worker(
    *,
    moto_url: str,
    redis_url: str,
    outbox: Path,
    extra_env: dict[str, str] | None = None,
    concurrency: int = 1,
    beat: bool = False,
    visibility_timeout: int = 5,
    purge: bool = True,
    queues: str | None = None,
) -> Iterator[WorkerProcess]:
    """Start a worker (and leave this process enqueueing for real); stop it afterwards. The
    queues are emptied first unless `purge=False` (a test that queued work for it to find).
    `queues` (`-Q`) names the only queues it reads; by default it reads every queue."""
    outbox.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "PORTAL_TEST_WORKER": "1",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "EMAIL_URL": f"outbox://{outbox}",
        "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    worker = WorkerProcess(
        env, outbox.parent / f"worker-{uuid.uuid4().hex[:6]}.log", concurrency, beat, queues
    )
    if purge:
        purge_queue()
    with real_broker():
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()


def read_outbox(outbox: Path) -> list[email.message.EmailMessage]:
    """Emails the worker wrote with Django's file backend (one file per connection)."""
    messages = []
    for path in sorted(outbox.glob("*.log")):
        for chunk in path.read_text(errors="replace").split("-" * 79):
            if chunk.strip():
                messages.append(
                    email.message_from_string(chunk.strip() + "\n", policy=email.policy.default)
                )
    return messages


def wait_until(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.25) -> Any:
    """Poll until `predicate()` is truthy; return its value or fail with a timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
