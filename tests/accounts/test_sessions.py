"""The portal's session engine: each stored session knows whose it is, so a leaver's are
ended by id, and the upgrade moved Django's live sessions across with their person."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as PlainDatabaseStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import PortalSession
from accounts.services import person_deactivate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

moved_across = importlib.import_module("accounts.migrations.0005_portal_sessions")


def test_a_signed_in_session_is_stored_under_its_persons_id_and_a_signed_out_one_is_gone() -> None:
    person = UserFactory()
    browser = Client()
    browser.force_login(person)
    assert browser.get(reverse("my_access")).status_code == 200
    key = browser.cookies["sessionid"].value
    assert PortalSession.objects.get(session_key=key).user_id == person.pk

    browser.post(reverse("account_logout"))

    assert not PortalSession.objects.filter(session_key=key).exists()


def test_deactivating_a_person_ends_their_sessions_and_no_one_elses() -> None:
    leaver, colleague = UserFactory(), UserFactory()
    laptop, phone, theirs = Client(), Client(), Client()
    laptop.force_login(leaver)
    phone.force_login(leaver)
    theirs.force_login(colleague)

    ended = person_deactivate(person=leaver, actor="test")

    assert ended == 2
    assert not PortalSession.objects.filter(user_id=leaver.pk).exists()
    assert laptop.get(reverse("my_access")).status_code == 302
    assert theirs.get(reverse("my_access")).status_code == 200


def test_the_upgrade_moves_live_sessions_across_with_their_person_and_drops_expired_ones(
    settings: Any,
) -> None:
    person = UserFactory()
    live = PlainDatabaseStore()
    live[SESSION_KEY] = str(person.pk)
    live.create()
    anonymous = PlainDatabaseStore()
    anonymous["seen"] = True
    anonymous.create()
    expired = PlainDatabaseStore()
    expired[SESSION_KEY] = str(person.pk)
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )

    moved_across._move_live_sessions(apps, None)

    moved = dict(PortalSession.objects.values_list("session_key", "user_id"))
    assert moved == {live.session_key: person.pk, anonymous.session_key: None}
    browser = Client()
    browser.cookies[settings.SESSION_COOKIE_NAME] = live.session_key
    assert browser.session[SESSION_KEY] == str(person.pk)


def test_beat_clears_expired_sessions_every_hour_and_keeps_the_signed_in(settings: Any) -> None:
    from portal.tasks import clear_expired_sessions

    entry = settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]
    assert entry["task"] == "portal.tasks.clear_expired_sessions"
    assert entry["schedule"] == 3600.0
    signed_in, gone = Client(), Client()
    signed_in.force_login(UserFactory())
    gone.force_login(UserFactory())
    PortalSession.objects.filter(session_key=gone.cookies["sessionid"].value).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert clear_expired_sessions() == 1

    assert signed_in.get(reverse("my_access")).status_code == 200
