"""New people get an invitation: a set-password link that works once and expires."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-unguessable-phrase-42"
CSV = b"email,full_name,department,manager_email\nnew.one@example.com,New One,Sales,\n"


def _import(client: Client, content: bytes = CSV) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.csv", content, content_type="text/csv")
    return client.post(reverse("people_import"), {"file": upload})


def _link(message: Any) -> str:
    match = re.search(r"https?://\S+/accounts/invitation/\S+/", message.body)
    assert match, message.body
    return urlsplit(match.group(0)).path


def _set_password(client: Client, path: str) -> Any:
    return client.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def test_an_imported_person_is_emailed_a_link_that_sets_their_password_once(
    hr_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert _import(hr_client).status_code == 302
    (message,) = mail.outbox
    assert message.to == ["new.one@example.com"]
    assert "works once, for 7 days" in message.body
    assert "password:" not in message.body.lower()
    path = _link(message)
    event = AuditEvent.objects.get(action="person.invited")
    assert event.data["via"] == "import"

    visitor = Client()
    assert "Set your password" in visitor.get(path).content.decode()
    response = _set_password(visitor, path)
    assert response.status_code == 302
    assert User.objects.get(email="new.one@example.com").check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="person.invitation_accepted").count() == 1

    again = visitor.get(path)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_the_link_expires_after_the_invitation_days_and_says_how_to_get_a_new_one(
    hr_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _import(hr_client)
    path = _link(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23)):
        assert Client().get(path).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=7, hours=1)):
        response = _set_password(Client(), path)
    assert response.status_code == 410
    assert "has expired" in response.content.decode()
    assert "Ask HR to send you a new invitation" in response.content.decode()
    assert not User.objects.get(email="new.one@example.com").has_usable_password()


def test_hr_resends_the_invitation_and_only_the_newest_link_works(
    hr_client: Client, hr_person: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _import(hr_client)
    first = _link(mail.outbox[0])
    person = User.objects.get(email="new.one@example.com")
    page = hr_client.get(reverse("person_detail", args=[person.pk])).content.decode()
    assert "Send the invitation again" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(reverse("person_invite", args=[person.pk]))
    assert response.status_code == 302
    second = _link(mail.outbox[1])
    assert Client().get(first).status_code == 410
    assert Client().get(second).status_code == 200
    resent = AuditEvent.objects.filter(action="person.invited", data__via="resent").get()
    assert resent.actor_id == hr_person.pk


def test_no_invitation_is_resent_to_someone_who_has_set_a_password(
    hr_client: Client, employee: User
) -> None:
    response = hr_client.post(reverse("person_invite", args=[employee.pk]), follow=True)
    assert "has already set a password" in response.content.decode()
    assert not mail.outbox
    assert not AuditEvent.objects.filter(action="person.invited").exists()


@pytest.mark.parametrize("role", ["employee", "manager", "security", "auditor"])
def test_only_hr_can_resend_an_invitation(
    client: Client, people: dict[str, User], role: str
) -> None:
    newcomer = UserFactory(email="newcomer@example.com", password=None)
    newcomer.set_unusable_password()
    newcomer.save()
    client.force_login(people[role])
    assert client.post(reverse("person_invite", args=[newcomer.pk])).status_code == 403
    assert not AuditEvent.objects.filter(action="person.invited").exists()


def test_under_sso_only_the_invitation_says_to_sign_in_with_the_identity_provider(
    hr_client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SSO_ONLY = True
    with django_capture_on_commit_callbacks(execute=True):
        _import(hr_client)
    (message,) = mail.outbox
    assert "company account" in message.body
    assert "/accounts/invitation/" not in message.body


def test_hr_adds_one_person_who_is_invited(
    hr_client: Client, manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(
            reverse("person_create"),
            {
                "email": "Added@example.com",
                "full_name": "Ada Added",
                "department": "Ops",
                "manager": manager.email,
            },
        )
    assert response.status_code == 302
    person = User.objects.get(email="added@example.com")
    assert person.manager == manager
    assert not person.has_usable_password()
    assert mail.outbox[0].to == ["added@example.com"]
    assert AuditEvent.objects.filter(action="person.created", data__via="form").exists()
    assert AuditEvent.objects.filter(action="person.invited", data__via="form").exists()


def test_adding_a_person_rejects_an_unknown_manager_with_a_clear_message(
    hr_client: Client,
) -> None:
    response = hr_client.post(
        reverse("person_create"),
        {"email": "x@example.com", "full_name": "X", "department": "", "manager": "Nobody"},
    )
    assert response.status_code == 200
    assert "is not someone in the directory" in response.content.decode()
    assert not User.objects.filter(email="x@example.com").exists()


def test_the_manager_picker_lists_current_people_in_a_constant_number_of_queries(
    hr_client: Client, employee: User, django_assert_max_num_queries: Any
) -> None:
    UserFactory.create_batch(30)
    UserFactory(email="gone@example.com", is_active=False)
    with django_assert_max_num_queries(12):
        page = hr_client.get(reverse("person_edit", args=[employee.pk])).content.decode()
    assert '<datalist id="people">' in page
    assert 'list="people"' in page
    assert '<option value="manager@example.com">Morgan Manager</option>' in page
    assert "gone@example.com" not in page


@pytest.mark.parametrize("role", ["employee", "manager", "security", "auditor"])
def test_only_hr_can_add_a_person(client: Client, people: dict[str, User], role: str) -> None:
    client.force_login(people[role])
    assert client.get(reverse("person_create")).status_code == 403
    response = client.post(reverse("person_create"), {"email": "z@example.com", "full_name": "Z"})
    assert response.status_code == 403
    assert not User.objects.filter(email="z@example.com").exists()
