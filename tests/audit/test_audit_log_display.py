"""What the trail's page shows: actions to choose from, targets linked, long details folded."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

import audit
from accounts import roles
from tests.factories import OffboardingFactory, RoleGroupFactory, UserFactory


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["security", "auditor"])
def test_security_admins_and_auditors_see_the_trail(client, people, role):
    audit.record("test.seen")
    client.force_login(people[role])
    response = client.get(reverse("audit_log"))
    assert response.status_code == 200
    assert "test.seen" in [row.event.action for row in response.context["rows"]]


@pytest.mark.django_db
def test_the_action_filter_lists_the_actions_in_the_trail_with_readable_labels(client, auditor):
    audit.record("request.submitted")
    audit.record("iam.access_key.deleted")
    client.force_login(auditor)
    page = client.get(reverse("audit_log")).content.decode()
    assert '<select name="action"' in page and "multiple" in page
    assert '<optgroup label="IAM (AWS)">' in page
    assert (
        '<option value="iam.access_key.deleted">access key deleted (iam.access_key.deleted)' in page
    )
    assert '<option value="request.*">All Access requests events</option>' in page


@pytest.mark.django_db
def test_several_actions_and_a_family_can_be_chosen_at_once(client, auditor):
    for action in ("request.submitted", "request.approved", "iam.user.created", "auth.signed_in"):
        audit.record(action)
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"action": ["request.*", "iam.user.created"]})
    shown = sorted(row.event.action for row in response.context["rows"])
    assert shown == ["iam.user.created", "request.approved", "request.submitted"]


@pytest.mark.django_db
def test_an_action_not_in_the_trail_matches_nothing_rather_than_everything(client, auditor):
    audit.record("request.submitted")
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"action": "request.never_happened"})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "No events match these filters." in response.content.decode()


@pytest.mark.django_db
def test_targets_link_to_the_pages_the_viewer_may_open(client, auditor, security_admin, employee):
    offboarding = OffboardingFactory(person=employee)
    role_group = RoleGroupFactory(name="Developers (links)")
    audit.record("offboarding.started", target=offboarding.audit_target, subject=employee)
    audit.record("catalogue.updated", target=f"role_group:{role_group.pk}")
    audit.record("request.approved", target="access_request:41", subject=employee)
    offboarding_page = reverse("offboarding_detail", args=[offboarding.pk])
    catalogue_page = reverse("catalogue_edit", args=[role_group.pk])

    client.force_login(auditor)
    page = client.get(reverse("audit_log")).content.decode()
    assert f'href="{offboarding_page}"' in page  # auditors read offboarding reports
    assert f'href="{catalogue_page}"' not in page  # but do not edit the catalogue
    # A request has no page of its own here: its link is its history in the trail, and the
    # person it concerns links to everything about them.
    assert 'href="/audit/?target=access_request%3A41"' in page
    assert f'href="/audit/?person={employee.pk}">Erin Employee (employee@example.com)</a>' in page

    client.force_login(security_admin)
    assert f'href="{catalogue_page}"' in client.get(reverse("audit_log")).content.decode()
    assert client.get(catalogue_page).status_code == 200


@pytest.mark.django_db
def test_hr_with_audit_rights_reaches_the_persons_own_pages(client, employee):
    viewer = UserFactory(roles=[roles.HR, roles.AUDITORS])
    audit.record("iam.user.created", target="iam_user:erin", subject=employee)
    audit.record("person.updated", target=employee.audit_target)
    client.force_login(viewer)
    page = client.get(reverse("audit_log")).content.decode()
    assert f'href="{reverse("person_access", args=[employee.pk])}"' in page
    assert f'href="{reverse("person_detail", args=[employee.pk])}"' in page


@pytest.mark.django_db
def test_the_target_filter_shows_one_things_history(client, auditor):
    audit.record("request.submitted", target="access_request:7")
    audit.record("request.approved", target="access_request:7")
    audit.record("request.submitted", target="access_request:70")
    client.force_login(auditor)
    response = client.get(reverse("audit_log"), {"target": "access_request:7"})
    assert [row.event.action for row in response.context["rows"]] == [
        "request.approved",
        "request.submitted",
    ]


@pytest.mark.django_db
def test_long_aws_details_fold_away_and_short_ones_stay_inline(client, auditor):
    ids = [f"req-{n:04d}-aaaaaaaaaaaaaaaa" for n in range(8)]
    audit.record("iam.user.created", data={"iam_user": "erin", "aws_request_ids": ids})
    audit.record("request.cancelled", data={"was": "pending"})
    client.force_login(auditor)
    page = client.get(reverse("audit_log")).content.decode()
    assert "<details><summary>2 details: iam_user, aws_request_ids</summary>" in page
    assert "req-0007-aaaaaaaaaaaaaaaa" in page.split("<details>")[1].split("</details>")[0]
    assert "<code>was=pending</code>" in page


@pytest.mark.django_db
def test_the_export_still_escapes_cells_a_spreadsheet_would_run(client, auditor):
    audit.record("test.formula", target="=HYPERLINK(1)", data={"note": "=1+1"})
    client.force_login(auditor)
    response = client.get(reverse("audit_export"), {"action": "test.formula"})
    [header, row] = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row[header.index("target")] == "'=HYPERLINK(1)"
