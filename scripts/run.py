"""`make run`: the whole portal on this machine, with nothing but Python 3.11.

Migrates a SQLite database under var/, seeds the demo people, starts a local moto server as a
fake AWS and creates the catalogue's IAM groups in it, then a real Celery worker (with beat)
and the web server. Redis is used when one answers on 127.0.0.1:6379; otherwise kombu's
filesystem transport is the broker. Ctrl-C stops everything this script started.

Environment: PORT (web port, default 8000), PORTAL_VAR_DIR (default ./var), PORTAL_DEMO_BROKER
(auto: Redis when it answers, else the filesystem transport; or force redis / filesystem).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEMO_PASSWORD = "portal-demo-pass"  # noqa: S105 (the published demo password)
DEMO_SIGN_INS = [
    ("employee@example.com", "an employee; reports to the manager"),
    ("manager@example.com", "the employee's manager: approves their requests"),
    ("hr@example.com", "HR: people directory, import, offboarding"),
    ("security@example.com", "security admin: catalogue, operations, audit"),
    ("auditor@example.com", "auditor: read-only audit trail"),
]
# A Redis database of its own, so the demo never mixes with the tests' queues.
DEMO_REDIS_URL = "redis://127.0.0.1:6379/9"
STOP_GRACE_SECONDS = 10


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop everything and leave."""


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


# --- Ports and services -------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers themselves do: a port whose last connections linger in TIME_WAIT
        # (a run that just stopped) is free; one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_near(start: int, span: int = 100) -> int:
    for port in range(start, start + span):
        if port_is_free(port):
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_for_http(url: str, timeout: float, alive: subprocess.Popen[str] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our server)
                if response.status < 500:
                    return True
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


# --- Children -------------------------------------------------------------------------------


class Children:
    """The long-running processes, each in its own process group so a stop reaches its
    children too (runserver, celery's beat and pool). Their group ids are kept in var/ so a
    run that was killed outright has its leftovers cleaned up by the next one."""

    def __init__(self, pid_file: Path) -> None:
        self.pid_file = pid_file
        self.running: list[tuple[str, subprocess.Popen[str]]] = []

    def start(
        self, name: str, args: list[str], env: dict[str, str], log_file: Path | None = None
    ) -> subprocess.Popen[str]:
        output: int | IO[str] = subprocess.PIPE
        if log_file is not None:
            output = log_file.open("a")
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        if log_file is None:
            threading.Thread(target=_relay, args=(name, process), daemon=True).start()
        self.running.append((name, process))
        self._write_pids()
        return process

    def _write_pids(self) -> None:
        groups = {name: process.pid for name, process in self.running}
        self.pid_file.write_text(json.dumps(groups))

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.running:
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop_all(self) -> None:
        # The web server first (no new work), then the worker (finishes or re-queues its
        # task), then fake AWS.
        for name, process in reversed(self.running):
            if process.poll() is None:
                say(f"stopping {name}")
                _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for _name, process in reversed(self.running):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            # Whatever a child left in its group (a pool process, beat) goes with it.
            _signal_group(process.pid, signal.SIGKILL)
        self.running.clear()
        self.pid_file.unlink(missing_ok=True)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _relay(name: str, process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None  # noqa: S101 (started with a pipe)
    for line in process.stdout:
        print(f"{name:>6} | {line}", end="", flush=True)


def clean_up_leftovers(pid_file: Path) -> None:
    """Stop the process groups of an earlier run that was killed before it could stop them."""
    if not pid_file.exists():
        return
    try:
        groups = json.loads(pid_file.read_text())
    except ValueError:
        groups = {}
    leftovers = [
        (name, pgid) for name, pgid in groups.items() if _group_alive(pgid) and _started_here(pgid)
    ]
    for name, pgid in leftovers:
        say(f"stopping {name} left running by an earlier run (process group {pgid})")
        _signal_group(pgid, signal.SIGTERM)
    if leftovers:
        time.sleep(1)
    for _name, pgid in leftovers:
        _signal_group(pgid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _started_here(pid: int) -> bool:
    # Process ids are reused: only touch a process whose command line is one of ours.
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return sys.platform != "linux"
    text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return any(mark in text for mark in ("moto.server", "celery", "runserver"))


# --- Fake AWS that outlives a restart -------------------------------------------------------
#
# moto keeps its state in memory. It records every request it serves (MOTO_ENABLE_RECORDING) to
# var/fake-aws/recording.jsonl, and the next run replays the changes, so the IAM users made in
# an earlier run are still there. Reads are dropped from the file and passwords are replaced
# by a placeholder (nobody can know them after their one-time reveal anyway), so what stays on
# disk is small and holds no credential.

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_aws import REPLAYED_PASSWORD, redact_body  # noqa: E402, F401 (beside this script; tests read the placeholder here)


def compact_recording(recording: Path) -> int:
    """Keep only the recorded changes, passwords replaced. Returns how many are kept. Run only
    while the moto server is stopped: it appends to the same file."""
    if not recording.exists():
        return 0
    kept: list[str] = []
    for line in recording.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short when a run was killed
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", errors="replace")
        fields = parse_qs(body, keep_blank_values=True)
        action = (fields.get("Action") or [""])[0]
        if not action or action.startswith(("Get", "List")):
            continue
        # Written redacted already (scripts/fake_aws.py); redacted again for older files.
        entry.update(body=redact_body(body), body_encoded=False)
        kept.append(json.dumps(entry))
    partial = recording.with_suffix(".tmp")
    partial.write_text("".join(f"{line}\n" for line in kept))
    partial.replace(recording)
    return len(kept)


def replay_recording(aws_url: str) -> None:
    url = f"{aws_url}/moto-api/recorder/replay-recording"
    request = urllib.request.Request(url, method="POST")  # noqa: S310 (our moto server)
    with urllib.request.urlopen(request, timeout=600):  # noqa: S310 (our moto server)
        pass


# --- Steps ----------------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode})")


def child_environment(var_dir: Path, web_port: int, aws_url: str, redis: bool) -> dict[str, str]:
    # Nothing from the caller's AWS set-up reaches the demo: no profile, no config file, no real
    # credentials. The same goes for a database or broker meant for something else.
    drop = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in drop}
    env.update(
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_ENV="development",
        DJANGO_DEBUG="1",
        PORTAL_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'portal.sqlite3'}",
        EMAIL_URL=f"outbox://{var_dir / 'outbox'}",
        PORTAL_BASE_URL=f"http://127.0.0.1:{web_port}",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        AWS_ENDPOINT_URL=aws_url,
        AWS_ACCESS_KEY_ID="demo-access-key",
        AWS_SECRET_ACCESS_KEY="demo-secret-key",  # noqa: S106 (moto accepts anything)
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(var_dir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(var_dir / "no-aws-credentials"),
    )
    if redis:
        env["REDIS_URL"] = DEMO_REDIS_URL
    else:
        env["CELERY_BROKER_URL"] = "filesystem://localhost//"
    return env


def banner(web_url: str, aws_url: str, broker: str, var_dir: Path) -> str:
    width = max(len(email) for email, _ in DEMO_SIGN_INS)
    people = "\n".join(f"      {email:<{width}}  {role}" for email, role in DEMO_SIGN_INS)
    line = "=" * 72
    return f"""
{line}
  IAM Access Portal (demo) is running.

  Open             {web_url}/
  Emails (outbox)  {web_url}/outbox/
  AWS_ENDPOINT_URL={aws_url}
                   (fake AWS: a local moto server; its changes are replayed on the next run)
  Broker           {broker}
  Database         {var_dir / "portal.sqlite3"}

  Sign in with password {DEMO_PASSWORD} as:
{people}

  Ctrl-C stops everything.
{line}
"""


def main() -> int:
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR", ROOT / "var")).resolve()
    web_port = int(os.environ.get("PORT", "8000"))
    for folder in (
        var_dir,
        var_dir / "outbox",
        var_dir / "broker" / "out",
        var_dir / "broker" / "processed",
        var_dir / "log",
    ):
        folder.mkdir(parents=True, exist_ok=True)
    pid_file = var_dir / "run.pids"
    recording = var_dir / "fake-aws" / "recording.jsonl"
    recording.parent.mkdir(exist_ok=True)
    clean_up_leftovers(pid_file)

    if not port_is_free(web_port):
        print(
            f"Port {web_port} is already in use (is the portal already running?).\n"
            f"Pick another one: make run PORT={web_port + 1}",
            file=sys.stderr,
        )
        return 1
    aws_port = free_port_near(5000)
    aws_url = f"http://127.0.0.1:{aws_port}"
    web_url = f"http://127.0.0.1:{web_port}"
    choice = os.environ.get("PORTAL_DEMO_BROKER", "auto")
    if choice not in {"auto", "redis", "filesystem"}:
        print("PORTAL_DEMO_BROKER must be auto, redis or filesystem", file=sys.stderr)
        return 1
    redis = choice == "redis" or (choice == "auto" and redis_answers())
    broker = (
        f"Redis at {DEMO_REDIS_URL}"
        if redis
        else f"embedded (kombu filesystem transport in {var_dir / 'broker'})"
    )
    env = child_environment(var_dir, web_port, aws_url, redis)

    children = Children(pid_file)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    started = time.monotonic()
    try:
        say(f"fake AWS: moto server on {aws_url} (log: {var_dir / 'log' / 'fake-aws.log'})")
        changes_to_replay = compact_recording(recording)
        moto = children.start(
            "aws",
            [PYTHON, str(ROOT / "scripts" / "fake_aws.py"), "-H", "127.0.0.1", "-p", str(aws_port)],
            {
                **env,
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                "MOTO_ENABLE_RECORDING": "True",
                "MOTO_RECORDER_FILEPATH": str(recording),
            },
            log_file=var_dir / "log" / "fake-aws.log",
        )
        say(f"database: migrating {var_dir / 'portal.sqlite3'}")
        manage(env, "migrate", "--noinput", "-v", "1")
        say("demo people")
        manage(env, "seed_demo")
        if not wait_for_http(f"{aws_url}/moto-api/", timeout=60, alive=moto):
            raise SystemExit("the fake AWS (moto server) did not start: see var/log/fake-aws.log")
        if changes_to_replay:
            say(f"fake AWS: replaying {changes_to_replay} change(s) recorded by earlier runs")
            replay_recording(aws_url)
        say("catalogue: creating the IAM groups and policies in fake AWS")
        manage(env, "sync_catalogue")
        say(f"worker with beat; broker: {broker}")
        children.start(
            "worker",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-B",
                "--pool=threads",
                "--concurrency=2",
                "-l",
                "info",
            ],
            env,
        )
        say(f"web server on {web_url}")
        web = children.start(
            "web",
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"],
            env,
        )
        if not wait_for_http(f"{web_url}/accounts/login/", timeout=60, alive=web):
            raise SystemExit("the web server did not answer: see its output above")
        print(banner(web_url, aws_url, broker, var_dir), flush=True)
        say(f"ready in {time.monotonic() - started:.0f}s")
        while True:
            stopped = children.exited()
            if stopped is not None:
                name, code = stopped
                print(
                    f"{name} stopped unexpectedly (exit {code}); stopping the rest.",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.5)
    except Stop:
        print(flush=True)
        say("stopping")
        return 0
    except SystemExit as error:
        if isinstance(error.code, str):
            print(error.code, file=sys.stderr)
            return 1
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        children.stop_all()
        compact_recording(recording)
        say("everything stopped")


if __name__ == "__main__":
    sys.exit(main())
