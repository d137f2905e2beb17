"""The web process as production runs it (gunicorn with gunicorn.conf.py): a credential
link's token reaches no log line, the access log's included; and it refuses to serve with
the AWS account's root credentials."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT_ARN

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok3n-that-must-never-reach-a-log-Zx9"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, *, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.mark.django_db
def test_no_credential_token_reaches_gunicorns_access_or_error_log(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: the root check only warns
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--error-logfile",
                "-",
                "--log-level",
                "debug",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                _get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        urllib.request.install_opener(urllib.request.build_opener(_NoRedirects))
        path = f"/access/credentials/{TOKEN}/"
        # Signed out: a redirect to sign in (the token in `next`); a POST without CSRF: a 403
        # that django.security.csrf logs with the path; a 404 for a path under it.
        assert _get(base + path) == 302
        assert _get(base + path, data=b"x=1") == 403
        assert _get(base + path + "nope") == 404
    finally:
        server.terminate()
        server.wait(timeout=20)
        urllib.request.install_opener(urllib.request.build_opener())
    text = log.read_text()
    assert "/access/credentials/[token]/" in text, text[-2000:]  # the access log has the lines
    assert "Forbidden (CSRF" in text  # and Django's security logger spoke
    assert TOKEN not in text


def test_the_web_process_refuses_to_start_with_root_credentials(root_credentials: None) -> None:
    namespace: dict[str, Any] = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 (our own config)
    with pytest.raises(SystemExit, match="account root"):
        namespace["on_starting"](server=None)
    assert ROOT_ARN  # the fixture makes AWS answer with the root ARN


def test_the_web_process_starts_with_an_iam_users_credentials(aws: None) -> None:
    namespace: dict[str, Any] = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102
    namespace["on_starting"](server=None)


def test_each_web_worker_runs_its_loop_with_room_on_the_frame_stack() -> None:
    import gc
    import importlib.util

    from common import stack

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec and spec.loader
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)

    class Worker:
        ran = 0

        def run(self) -> None:
            self.ran += 1

    worker = Worker()
    try:
        conf.post_worker_init(worker)
    finally:
        gc.unfreeze()
    assert worker.run.func is stack.run_with_room  # type: ignore[attr-defined]  # the partial the hook set
    worker.run()
    assert worker.ran == 1


def test_the_web_process_loads_the_task_queue_before_its_workers_fork() -> None:
    """A fresh interpreter, as gunicorn's master is: after the start-up hook, the broker's
    transport and Celery's task registry are loaded, so no worker's first enqueue loads them
    while a person waits."""
    probe = (
        "import runpy, sys\n"
        "conf = runpy.run_path('gunicorn.conf.py')\n"
        "assert 'kombu.transport.redis' not in sys.modules\n"
        "conf['on_starting'](None)\n"
        "from portal.celery import app\n"
        "print('kombu.transport.redis' in sys.modules, app.finalized)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: the root check only warns
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",  # named, never connected to
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]
