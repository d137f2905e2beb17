"""Offboarding a privileged person (HR, security admin, auditor) takes a second person: a
security admin who is neither the leaver nor the HR person who asked. The last active
security admin cannot be offboarded at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.models import User
from audit.models import AuditEvent
from provisioning.errors import OffboardingError, OffboardingNotAllowed
from provisioning.models import Offboarding
from provisioning.offboarding.start import (
    offboarding_confirm,
    offboarding_decline,
    offboarding_start,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Status = Offboarding.Status


@pytest.fixture
def second_admin(db: None) -> User:
    return UserFactory(email="second.security@example.com", roles=[roles.SECURITY_ADMINS])


@pytest.mark.parametrize("role", [roles.HR, roles.SECURITY_ADMINS, roles.AUDITORS])
def test_hr_alone_only_asks_to_offboard_a_privileged_person(
    role: str,
    hr_person: User,
    security_admin: User,
    second_admin: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    leaver = UserFactory(email="privileged@example.com", full_name="Pri Vileged", roles=[role])
    with django_capture_on_commit_callbacks(execute=True):
        offboarding = offboarding_start(actor=hr_person, person=leaver)

    assert offboarding.status == Status.AWAITING_CONFIRMATION
    leaver.refresh_from_db()
    assert leaver.is_active, "nothing is cut until a second person confirms"
    assert AuditEvent.objects.filter(action="offboarding.requested").exists()
    assert not AuditEvent.objects.filter(action="offboarding.started").exists()
    [email] = mail.outbox
    expected = {security_admin.email, second_admin.email} - {leaver.email}
    assert set(email.to) == expected


def test_a_second_security_admin_confirms_and_the_portal_is_cut_then(
    hr_person: User, security_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    leaver = UserFactory(email="other.hr@example.com", roles=[roles.HR])
    offboarding = offboarding_start(actor=hr_person, person=leaver)

    with django_capture_on_commit_callbacks() as enqueued:
        confirmed = offboarding_confirm(
            offboarding_id=offboarding.pk, actor=security_admin, enqueue=False
        )

    leaver.refresh_from_db()
    assert not leaver.is_active
    assert confirmed.status == Status.PENDING
    assert confirmed.confirmed_by == security_admin
    assert AuditEvent.objects.get(action="offboarding.confirmed").actor_id == security_admin.pk
    assert AuditEvent.objects.get(action="offboarding.started").actor_id == security_admin.pk
    assert not enqueued  # enqueue=False: the caller tears down itself


def test_neither_the_leaver_nor_the_hr_person_who_asked_may_confirm(
    hr_person: User, second_admin: User
) -> None:
    hr_and_security = UserFactory(email="both@example.com", roles=[roles.HR, roles.SECURITY_ADMINS])
    leaver = UserFactory(email="leaving.admin@example.com", roles=[roles.SECURITY_ADMINS])
    offboarding = offboarding_start(actor=hr_and_security, person=leaver)
    for refused in (hr_and_security, leaver, hr_person):
        with pytest.raises(OffboardingNotAllowed):
            offboarding_confirm(offboarding_id=offboarding.pk, actor=refused)
    offboarding.refresh_from_db()
    assert offboarding.status == Status.AWAITING_CONFIRMATION
    offboarding_confirm(offboarding_id=offboarding.pk, actor=second_admin, enqueue=False)


def test_the_last_active_security_admin_cannot_be_offboarded(
    hr_person: User, security_admin: User
) -> None:
    with pytest.raises(OffboardingNotAllowed, match="last active security admin"):
        offboarding_start(actor=hr_person, person=security_admin)
    assert not Offboarding.objects.exists()
    security_admin.refresh_from_db()
    assert security_admin.is_active


def test_one_hr_person_cannot_remove_every_security_admin(
    hr_person: User, security_admin: User, second_admin: User
) -> None:
    first = offboarding_start(actor=hr_person, person=security_admin)
    second = offboarding_start(actor=hr_person, person=second_admin)
    # Each would need the other to confirm; the first confirmation leaves one admin, who is
    # then the last and cannot be offboarded.
    offboarding_confirm(offboarding_id=second.pk, actor=security_admin, enqueue=False)
    with pytest.raises(OffboardingNotAllowed):
        offboarding_confirm(offboarding_id=first.pk, actor=second_admin)
    assert User.objects.filter(pk=security_admin.pk, is_active=True).exists()


def test_a_security_admin_may_decline_with_a_reason_hr_reads(
    hr_person: User, security_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    leaver = UserFactory(email="auditor-two@example.com", roles=[roles.AUDITORS])
    offboarding = offboarding_start(actor=hr_person, person=leaver)
    with pytest.raises(OffboardingError, match="reason"):
        offboarding_decline(offboarding_id=offboarding.pk, actor=security_admin, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        offboarding_decline(
            offboarding_id=offboarding.pk, actor=security_admin, reason="They moved team."
        )
    offboarding.refresh_from_db()
    leaver.refresh_from_db()
    assert offboarding.status == Status.DECLINED and leaver.is_active
    [email] = [m for m in mail.outbox if "declined" in m.subject]
    assert email.to == [hr_person.email] and "They moved team." in email.body
    # Declined is finished: HR may ask again.
    assert offboarding_start(actor=hr_person, person=leaver).status == Status.AWAITING_CONFIRMATION


def test_the_pages_walk_hr_and_the_second_person_through_it(
    hr_person: User, security_admin: User
) -> None:
    leaver = UserFactory(email="leaving.hr@example.com", full_name="Lea Leaving", roles=[roles.HR])
    hr = Client()
    hr.force_login(hr_person)
    response = hr.post(
        reverse("offboard_person", args=[leaver.pk]), {"mode": "delete"}, follow=True
    )
    page = response.content.decode()
    assert "a security admin other than you must confirm" in page
    assert "Waiting for a second person" in page
    offboarding = Offboarding.objects.get(person=leaver)
    confirm = reverse("offboarding_confirm", args=[offboarding.pk])
    assert confirm not in page  # HR cannot confirm their own request

    admin = Client()
    admin.force_login(security_admin)
    page = admin.get(reverse("offboarding_detail", args=[offboarding.pk])).content.decode()
    assert confirm in page
    response = admin.post(confirm, follow=True)
    assert "Confirmed: Lea Leaving can no longer sign in" in response.content.decode()
    leaver.refresh_from_db()
    assert not leaver.is_active
