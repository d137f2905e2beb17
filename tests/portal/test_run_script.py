"""scripts/run.py's pieces that need no running demo: the fake AWS recording it replays, the
ports and the environment it gives its children."""

from __future__ import annotations

import base64
import importlib.util
import json
import socket
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portal_run_script", ROOT / "scripts" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(body: str, *, encoded: bool = False) -> str:
    raw = base64.b64encode(body.encode()).decode() if encoded else body
    return json.dumps(
        {
            "headers": {"Content-Length": str(len(body))},
            "method": "POST",
            "url": "http://127.0.0.1:5000/",
            "body": raw,
            "body_encoded": encoded,
        }
    )


def test_the_recording_keeps_changes_drops_reads_and_never_keeps_a_password(run, tmp_path):
    recording = tmp_path / "recording.jsonl"
    password = "Kx9!secret-from-the-first-run"
    lines = [
        _entry("Action=GetCallerIdentity&Version=2011-06-15"),
        _entry("Action=CreateUser&UserName=erin&Version=2010-05-08", encoded=True),
        _entry("Action=ListUsers&Version=2010-05-08"),
        _entry(
            urlencode({"Action": "CreateLoginProfile", "UserName": "erin", "Password": password})
        ),
        _entry("Action=AddUserToGroup&UserName=erin&GroupName=portal-developers", encoded=True),
        # A line cut short: the run was killed while moto wrote it.
        '{"headers": {}, "method": "POST", "url": "http://127.0.0.1:5000/", "bo',
    ]
    recording.write_text("\n".join(lines) + "\n")

    assert run.compact_recording(recording) == 3

    kept = [json.loads(line) for line in recording.read_text().splitlines()]
    actions = [parse_qs(entry["body"])["Action"][0] for entry in kept]
    assert actions == ["CreateUser", "CreateLoginProfile", "AddUserToGroup"]
    assert password not in recording.read_text()
    assert parse_qs(kept[1]["body"])["Password"] == [run.REPLAYED_PASSWORD]
    assert not any(entry["body_encoded"] for entry in kept)


def test_compacting_twice_changes_nothing_more(run, tmp_path):
    recording = tmp_path / "recording.jsonl"
    recording.write_text(_entry("Action=CreateGroup&GroupName=g") + "\n")
    run.compact_recording(recording)
    once = recording.read_text()
    run.compact_recording(recording)
    assert recording.read_text() == once


def test_no_recording_means_nothing_to_replay(run, tmp_path):
    assert run.compact_recording(tmp_path / "missing.jsonl") == 0


def test_a_port_with_a_listener_is_taken_and_the_next_free_one_is_chosen(run):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert not run.port_is_free(taken)
        assert run.free_port_near(taken, span=20) != taken


def test_children_never_see_the_callers_aws_set_up_or_databases(run, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production-admin")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("DATABASE_URL", "postgres://prod/portal")

    env = run.child_environment(tmp_path, 8123, "http://127.0.0.1:5001", redis=False)

    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5001"
    assert env["AWS_CONFIG_FILE"].startswith(str(tmp_path))
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    assert env["CELERY_BROKER_URL"].startswith("filesystem://")
    assert "REDIS_URL" not in env
    assert env["PORTAL_BASE_URL"] == "http://127.0.0.1:8123"
    assert run.child_environment(tmp_path, 8123, "x", redis=True)["REDIS_URL"] == run.DEMO_REDIS_URL


def test_the_fake_aws_never_writes_a_password_to_its_recording_even_while_it_runs(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys
    import time

    import boto3

    recording = tmp_path / "recording.jsonl"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "fake_aws.py"), "-H", "127.0.0.1", "-p", str(port)],
        env={
            **os.environ,
            "MOTO_ENABLE_RECORDING": "True",
            "MOTO_RECORDER_FILEPATH": str(recording),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        for _ in range(100):
            try:
                iam.list_users()
                break
            except Exception:
                time.sleep(0.1)
        iam.create_user(UserName="erin")
        iam.create_login_profile(UserName="erin", Password="Sup3r-secret-console-pass!")
        text = recording.read_text()  # read while the server still runs
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "CreateLoginProfile" in text
    assert "Sup3r-secret-console-pass" not in text
    assert base64.b64encode(b"Sup3r-secret-console-pass").decode()[:16] not in text
    assert "Replayed-demo-password-1" in text
