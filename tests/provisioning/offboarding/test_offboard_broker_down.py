"""Nothing is lost when the broker is down as HR confirms: the portal part is done at once,
HR sees no error, and the sweeper hands the AWS teardown to the worker later."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Offboarding
from provisioning.offboarding.sweep import stuck_offboardings_sweep
from tests.factories import IamAccountFactory
from tests.strict_iam import use_strict_iam
from tests.worker import broker_down

pytestmark = pytest.mark.django_db


def test_an_offboarding_confirmed_while_the_broker_is_down_is_torn_down_by_the_sweeper(
    aws: None,
    settings: Any,
    hr_person: Any,
    employee: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_strict_iam(settings)  # AWS's refusals, and the calls moto lacks
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="erin")
    iam.create_access_key(UserName="erin")
    IamAccountFactory(owner=employee, user_name="erin")
    hr = Client()
    hr.force_login(hr_person)

    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        response = hr.post(reverse("offboard_person", args=[employee.pk]), {"mode": "delete"})

    assert response.status_code == 302
    employee.refresh_from_db()
    assert not employee.is_active
    offboarding = Offboarding.objects.get(person=employee)
    assert offboarding.status == Offboarding.Status.PENDING
    assert "broker is unreachable" in caplog.text

    # Too early: a teardown that may still be on its way is left alone.
    assert stuck_offboardings_sweep() == []
    later = timezone.now() + timedelta(minutes=10)
    assert stuck_offboardings_sweep(now=later) == [offboarding.pk]

    offboarding.refresh_from_db()
    assert offboarding.status == Offboarding.Status.COMPLETED
    assert offboarding.report["remaining_total"] == 0
    assert "erin" not in [user["UserName"] for user in iam.list_users()["Users"]]
    assert stuck_offboardings_sweep(now=later) == []
