from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

import audit
from audit.models import AuditEvent


@pytest.mark.django_db
def test_auditor_filters_the_trail_by_action_and_actor(client, auditor, employee):
    audit.record("request.submitted", actor=employee, target="access_request:1")
    audit.record("catalogue.updated", actor=auditor, target="role_group:1")
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"action": "request.*", "actor": "employee@"})
    assert response.status_code == 200
    shown = [event.action for event in response.context["page_obj"]]
    assert "request.submitted" in shown
    assert "catalogue.updated" not in shown


@pytest.mark.django_db
def test_bad_date_range_is_explained(client, auditor):
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"since": "2026-02-01", "until": "2026-01-01"})
    assert "start date must be on or before the end date" in response.content.decode()


@pytest.mark.django_db
def test_export_streams_the_filtered_trail_as_csv(client, security_admin, employee):
    audit.record("request.submitted", actor=employee, target="access_request:7", data={"n": 1})
    audit.record("auth.signed_in", actor=employee)
    client.force_login(security_admin)
    response = client.get(reverse("audit_export"), {"action": "request.*"})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "created_at", "actor", "action"]
    assert [row[3] for row in rows[1:]] == ["request.submitted"]
    assert rows[1][2] == "employee@example.com"


@pytest.mark.django_db
def test_a_long_export_arrives_whole_in_order_in_a_few_large_chunks(
    client, auditor, employee, monkeypatch
):
    monkeypatch.setattr("audit.views._EXPORT_CHUNK_CHARS", 16 * 1024)
    for n in range(400):
        audit.record("request.submitted", actor=employee, target=f"=HYPERLINK({n})")
    client.force_login(auditor)

    response = client.get(reverse("audit_export"), {"action": "request.submitted"})
    chunks = list(response.streaming_content)

    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    ids = [int(row[0]) for row in rows[1:]]
    assert len(ids) == 400 and ids == sorted(ids)
    assert [row[4] for row in rows[1:3]] == ["'=HYPERLINK(0)", "'=HYPERLINK(1)"]
    assert 4 < len(chunks) < 40  # streamed, but not one write per row


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["employee", "manager", "hr"])
def test_people_without_audit_rights_get_403(client, people, role):
    client.force_login(people[role])
    assert client.get(reverse("audit_log")).status_code == 403
    assert client.get(reverse("audit_export")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1, 500])
def test_audit_log_runs_in_constant_queries(client, auditor, size, django_assert_max_num_queries):
    audit.record("seed.first")
    head = AuditEvent.objects.get()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            created_at=head.created_at,
            actor_label="system",
            action="seed.row",
            prev_hash="x",
            hash=f"{n:064d}",
        )
        for n in range(size)
    )
    client.force_login(auditor)
    # 8, and the MFA check auditors now pass: they are privileged.
    with django_assert_max_num_queries(9):
        response = client.get(reverse("audit_log"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_an_export_with_an_invalid_date_is_refused_not_answered_with_everything(client, auditor):
    audit.record("test.secret_enough")
    client.force_login(auditor)
    response = client.get(reverse("audit_export"), {"since": "notadate"})
    assert response.status_code == 400
    assert "Nothing exported" in response.content.decode()
    assert "test.secret_enough" not in response.content.decode()


@pytest.mark.django_db
def test_an_invalid_date_range_shows_the_error_and_no_list(client, auditor):
    # (The action's name is among the filter's choices: the row is told by its target.)
    audit.record("test.listed", target="listed_thing:1")
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"since": "2026-05-02", "until": "2026-05-01"})
    page = response.content.decode()
    assert "The start date must be on or before the end date." in page
    assert "listed_thing:1" not in page
    assert response.context["rows"] == []


@pytest.mark.django_db
def test_the_daily_anchor_email_reaches_the_auditors(auditor, settings, tmp_path):
    from django.core import mail

    from audit.tasks import email_audit_anchor

    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors.log")
    event = audit.record("test.anchored")
    assert email_audit_anchor() == event.pk
    [message] = mail.outbox
    assert auditor.email in message.to
    assert f'"head_id": {event.pk}' in message.body
    assert (tmp_path / "anchors.log").read_text().startswith("AUDIT-ANCHOR ")
