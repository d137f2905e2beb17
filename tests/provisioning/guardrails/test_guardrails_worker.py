"""The guardrails on a real Celery worker (Redis, a moto server, the strict IAM layer in the
worker and in this process): MFA at hand-over with wrong then right codes; a rotation end to
end through a SIGKILL; the 90-day deactivation and the unused-credential cut with the worker
living in the future; drift found by "Scan now" and answered; compliance figures."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning.guardrails.models import (
    ComplianceSnapshot,
    DriftFinding,
    GuardrailRun,
    KeyRotation,
)
from provisioning.models import AccessRequest
from provisioning.requests.decisions import access_request_approve
from provisioning.requests.submit import access_request_submit
from tests.factories import RoleGroupFactory
from tests.guardrails_strict import consecutive_codes
from tests.provisioning.guardrails.conftest import make_iam_user, signed_in
from tests.provisioning.guardrails.test_compliance import seed_failures
from tests.provisioning.guardrails.test_drift import seed_drift
from tests.strict_iam import use_strict_iam
from tests.worker import read_outbox, running_worker, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_required"),
]

LINK = re.compile(r"/access/credentials/([A-Za-z0-9_\-]+)/")
QUICK = {
    "PORTAL_STRICT_IAM": "1",
    "CELERY_TASK_SOFT_TIME_LIMIT": "8",
    "CELERY_TASK_TIME_LIMIT": "10",
    "PROVISIONING_LEASE_SECONDS": "12",
    "PROVISIONING_RETRY_BASE_SECONDS": "1",
    "PROVISIONING_RETRY_MAX_SECONDS": "2",
    "PROVISIONING_STALE_SECONDS": "3",
    "PROVISIONING_SWEEP_SECONDS": "1",
    "GUARDRAILS_RETRY_BASE_SECONDS": "1",
    "GUARDRAILS_RETRY_MAX_SECONDS": "2",
    "GUARDRAILS_CHECK_SECONDS": "1",
    "GUARDRAILS_ROTATION_SWEEP_SECONDS": "1",
}


def _iam(moto_url: str) -> Any:
    return boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")


def _keys(moto_url: str, user_name: str) -> dict[str, str]:
    listed = _iam(moto_url).list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in listed}


def _revealed(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found, element_id
    return found.group(1)


def _links(outbox: Path) -> list[str]:
    return [
        LINK.search(m.get_content()).group(0)
        for m in read_outbox(outbox)
        if LINK.search(m.get_content())
    ]


@pytest.fixture
def strict_server(aws_server: str, settings: Any) -> str:
    use_strict_iam(settings)
    return aws_server


def test_mfa_is_enrolled_at_hand_over_after_wrong_codes_are_refused(
    strict_server: str, redis_url: str, tmp_path: Path, employee: Any, manager: Any
) -> None:
    outbox = tmp_path / "outbox"
    with running_worker(
        moto_url=strict_server, redis_url=redis_url, outbox=outbox, extra_env=QUICK
    ):
        (access_request,) = access_request_submit(
            requester=employee,
            access_type="programmatic",
            justification="Runs the nightly export job against S3.",
            role_group=RoleGroupFactory(managed_policy_arns=[]),
        )
        access_request_approve(access_request_id=access_request.pk, actor=manager)
        wait_until(
            lambda: AccessRequest.objects.get(pk=access_request.pk).status == "active", timeout=60
        )
        (path,) = wait_until(lambda: _links(outbox))
    person = signed_in(employee)
    reveal = person.post(path).content.decode()
    access_request.refresh_from_db()
    mfa_url = reverse("guardrails_mfa", args=[access_request.iam_account_id])
    assert mfa_url in reveal and "aws sts get-session-token" in reveal

    page = person.post(mfa_url, {"action": "start"}, follow=True).content.decode()
    seed = _revealed(page, "mfa-seed")
    first, second = consecutive_codes(seed)
    refused = person.post(mfa_url, {"action": "enable", "code_1": second, "code_2": first})
    assert "AWS did not accept those codes" in refused.content.decode()
    name = access_request.iam_user_name
    assert _iam(strict_server).list_mfa_devices(UserName=name)["MFADevices"] == []

    person.post(mfa_url, {"action": "enable", "code_1": first, "code_2": second})

    (device,) = _iam(strict_server).list_mfa_devices(UserName=name)["MFADevices"]
    assert device["SerialNumber"] == f"arn:aws:iam::123456789012:mfa/{name}"


def test_a_rotation_survives_a_sigkill_with_at_most_two_keys_and_ends_with_the_old_key_gone(
    strict_server: str, redis_url: str, tmp_path: Path, employee: Any
) -> None:
    account = make_iam_user(employee, "employee")
    (old,) = _keys(strict_server, "employee")
    outbox = tmp_path / "outbox"
    env = {**QUICK, "AWS_FAULT_INJECTION": "after:CreateAccessKey:sleep=30"}
    person = signed_in(employee)
    with running_worker(
        moto_url=strict_server, redis_url=redis_url, outbox=outbox, beat=True, extra_env=env
    ) as worker:
        person.post(reverse("guardrails_rotate_key", args=[account.pk]))
        worker.wait_for_log("sleeping 30s after CreateAccessKey", timeout=60)
        worker.kill()
        assert len(_keys(strict_server, "employee")) == 2
        assert _links(outbox) == []

        worker.env["AWS_FAULT_INJECTION"] = ""
        worker.start()
        rotation = wait_until(
            lambda: KeyRotation.objects.filter(status="overlap").first(), timeout=90
        )
        assert len(_keys(strict_server, "employee")) == 2
        (path,) = _links(outbox)
        page = person.post(path).content.decode()
        assert person.post(path).status_code == 410
        new_id = _revealed(page, "cred-access-key-id")
        assert new_id == rotation.new_access_key_id
        assert _keys(strict_server, "employee") == {old: "Active", new_id: "Active"}

        # The person starts using the new key: AWS (moto) records its last use.
        boto3.client(
            "sts",
            endpoint_url=strict_server,
            region_name="us-east-1",
            aws_access_key_id=new_id,
            aws_secret_access_key=_revealed(page, "cred-secret-access-key"),
            aws_session_token=None,
        ).get_caller_identity()
        wait_until(
            lambda: KeyRotation.objects.get(pk=rotation.pk).status == "completed", timeout=60
        )

    assert _keys(strict_server, "employee") == {new_id: "Active"}
    assert rotation.attempts >= 1 and KeyRotation.objects.get(pk=rotation.pk).attempts >= 2
    assert any("is gone" in m["Subject"] for m in read_outbox(outbox))


def test_a_key_past_90_days_is_deactivated_by_the_worker_living_90_days_on(
    strict_server: str, redis_url: str, tmp_path: Path, employee: Any
) -> None:
    make_iam_user(employee, "employee")
    outbox = tmp_path / "outbox"
    env = {**QUICK, "PORTAL_TEST_TRAVEL_DAYS": "91"}
    with running_worker(
        moto_url=strict_server, redis_url=redis_url, outbox=outbox, beat=True, extra_env=env
    ):
        wait_until(
            lambda: set(_keys(strict_server, "employee").values()) == {"Inactive"}, timeout=60
        )
        mails = wait_until(
            lambda: [m for m in read_outbox(outbox) if "deactivated" in m["Subject"]]
        )
        # The run is marked done after its emails: stopping the worker before would end it.
        wait_until(lambda: GuardrailRun.objects.filter(job="key_age", status="done").exists())

    assert mails[0]["To"] == employee.email
    assert GuardrailRun.objects.filter(job="key_age", status="done").count() == 1


def test_unused_credentials_are_warned_then_disabled_by_the_worker(
    strict_server: str, redis_url: str, tmp_path: Path, employee: Any
) -> None:
    make_iam_user(employee, "employee", console=True)
    outbox = tmp_path / "outbox"
    for runs, days in ((1, "39"), (2, "46")):
        env = {**QUICK, "PORTAL_TEST_TRAVEL_DAYS": days}
        with running_worker(
            moto_url=strict_server, redis_url=redis_url, outbox=outbox, beat=True, extra_env=env
        ):
            wait_until(
                lambda: (
                    GuardrailRun.objects.filter(job="unused_credentials", status="done").count()
                    == runs  # noqa: B023  (waited on inside this iteration)
                ),
                timeout=60,
            )
        if days == "39":
            subjects = [m["Subject"] for m in read_outbox(outbox)]
            assert "Your AWS console password has not been used for 39 days" in subjects
            assert set(_keys(strict_server, "employee").values()) == {"Active"}

    subjects = [m["Subject"] for m in read_outbox(outbox)]
    assert "Your AWS console password was disabled" in subjects
    assert any(s.endswith("was deactivated") for s in subjects)
    assert set(_keys(strict_server, "employee").values()) == {"Inactive"}
    with pytest.raises(_iam(strict_server).exceptions.NoSuchEntityException):
        _iam(strict_server).get_login_profile(UserName="employee")


def test_scan_now_finds_every_kind_of_drift_on_the_worker_and_each_is_answered(
    strict_server: str,
    redis_url: str,
    tmp_path: Path,
    employee: Any,
    manager: Any,
    security_admin: Any,
) -> None:
    seeded = seed_drift(employee)
    admin = signed_in(security_admin)
    with running_worker(
        moto_url=strict_server, redis_url=redis_url, outbox=tmp_path / "outbox", extra_env=QUICK
    ):
        admin.post(reverse("guardrails_drift_scan"))
        wait_until(
            lambda: GuardrailRun.objects.filter(job="drift", status="done").exists(), timeout=60
        )
    assert DriftFinding.objects.filter(status="open").count() == 5
    page = admin.get(reverse("guardrails_drift")).content.decode()
    assert seeded["stray_key"] in page and "contractor" in page

    findings = {f.kind: f for f in DriftFinding.objects.all()}
    url = lambda kind: reverse("guardrails_drift_finding", args=[findings[kind].pk])  # noqa: E731
    admin.post(url("unrecorded_key"), {"action": "remove"})
    admin.post(url("unmanaged_user"), {"action": "adopt", "owner": manager.email})
    until = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    admin.post(
        url("direct_policy"),
        {"action": "accept", "reason": "Temporary for the migration.", "until": until},
    )

    statuses = dict(DriftFinding.objects.values_list("kind", "status"))
    assert (statuses["unrecorded_key"], statuses["unmanaged_user"], statuses["direct_policy"]) == (
        "removed",
        "adopted",
        "accepted",
    )
    assert seeded["stray_key"] not in _keys(strict_server, "employee")


def test_check_now_on_the_worker_scores_an_account_seeded_with_known_failures(
    strict_server: str,
    redis_url: str,
    tmp_path: Path,
    employee: Any,
    manager: Any,
    security_admin: Any,
) -> None:
    seed_failures(employee, manager)
    admin = signed_in(security_admin)
    with running_worker(
        moto_url=strict_server, redis_url=redis_url, outbox=tmp_path / "outbox", extra_env=QUICK
    ):
        admin.post(reverse("guardrails_compliance_check"))
        snapshot = wait_until(lambda: ComplianceSnapshot.objects.first(), timeout=60)

    assert (snapshot.passed, snapshot.total) == (0, 10)
    page = admin.get(reverse("guardrails_compliance")).content.decode()
    assert "0 of 10 controls pass (0%)" in page
    failing = [c["id"] for c in snapshot.controls if not c["passed"]]
    assert failing == ["1.4", "1.5", "1.8", "1.9", "1.10", "1.12", "1.13", "1.14", "1.15", "1.16"]
