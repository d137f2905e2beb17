"""`make run` (scripts/run.py) as a person uses it: start, open the pages, Ctrl-C, start again.

It runs on its own var/ folder and the embedded filesystem broker, so it needs no service."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Run:
    def __init__(self, var_dir: Path, port: int) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "EMAIL_URL"}
        }
        env.update(PORT=str(port), PORTAL_VAR_DIR=str(var_dir), PORTAL_DEMO_BROKER="filesystem")
        self.process = subprocess.Popen(
            [sys.executable, "scripts/run.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if text in line:
                return
        pytest.fail(f"never saw {text!r}; output:\n{''.join(self.output)[-4000:]}")

    def text(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get_nowait())
        return "".join(self.output)

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.text()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (local server)
        return response.status, response.read().decode()


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(600)
def test_make_run_serves_the_demo_stops_on_ctrl_c_and_starts_again(tmp_path):
    var_dir = tmp_path / "var"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    first = Run(var_dir, port)
    try:
        first.wait_for("==> ready in", READY_TIMEOUT)
        output = first.text()
        assert f"Open             {base}/" in output
        assert f"{base}/outbox/" in output
        assert "AWS_ENDPOINT_URL=http://127.0.0.1:" in output
        assert "portal-demo-pass" in output and "auditor@example.com" in output
        assert "11 change(s) made in AWS." in output

        status, page = _get(f"{base}/accounts/login/")
        assert status == 200
        assert "Demo — fake AWS" in page
        assert "Demo sign-ins, all with the password <code>portal-demo-pass</code>" in page
        assert _get(f"{base}/healthz")[0] == 200
        assert _get(f"{base}/outbox/")[0] == 200
        groups = list(json.loads((var_dir / "run.pids").read_text()).values())
        assert len(groups) == 3

        assert first.interrupt() == 0
    finally:
        first.kill()
    assert "everything stopped" in first.text()
    deadline = time.monotonic() + 10  # a killed process takes a moment to be reaped
    while [pgid for pgid in groups if _alive(pgid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pgid for pgid in groups if _alive(pgid)], "Ctrl-C left processes running"

    again = Run(var_dir, port)
    try:
        again.wait_for("==> ready in", READY_TIMEOUT)
        output = again.text()
        assert "No migrations to apply." in output
        assert "Demo people already in place." in output
        # The fake AWS kept what the first run made: its recorded changes were replayed.
        assert "fake AWS: replaying" in output
        assert "Nothing changed: AWS already matches the catalogue." in output
        assert _get(f"{base}/accounts/login/")[0] == 200
        assert again.interrupt() == 0
    finally:
        again.kill()
