"""The request form and its review step, through the browser's eyes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning.models import AccessRequest
from tests.factories import (
    AccessRequestFactory,
    GrantFactory,
    IamAccountFactory,
    RoleGroupFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = reverse("request_access")
WHY = "I build the data pipeline and need to deploy it."


@pytest.fixture
def developers():
    return RoleGroupFactory(
        name="Developers (test)",
        description="Build and run workloads.",
        managed_policy_arns=["arn:aws:iam::aws:policy/AmazonEC2FullAccess"],
    )


def answers(role_group=None, **overrides):
    data = {
        "role_group": role_group.pk if role_group else "",
        "same_as": "",
        "access_type": "console",
        "justification": WHY,
        "end_date": "",
    }
    data.update(overrides)
    return data


def text(response):
    return response.content.decode()


@pytest.mark.parametrize("role", ["employee", "manager", "hr", "security", "auditor"])
def test_every_signed_in_role_may_request_access(client, people, role):
    client.force_login(people[role])
    assert client.get(URL).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.post(URL, answers(step="confirm"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not AccessRequest.objects.exists()


def test_the_form_shows_what_each_active_role_group_grants(client, employee, developers):
    RoleGroupFactory(name="Retired (test)", active=False)
    client.force_login(employee)
    page = text(client.get(URL))
    assert "Build and run workloads." in page
    assert "arn:aws:iam::aws:policy/AmazonEC2FullAccess" in page
    assert "Retired (test)" not in page
    assert "your manager, Morgan Manager" in page


def test_the_review_shows_exactly_what_will_be_created_and_sends_nothing(
    client, employee, developers
):
    client.force_login(employee)
    response = client.post(URL, answers(developers, access_type="both", step="review"))

    assert response.status_code == 200
    page = text(response)
    assert "A new IAM user <code>employee</code>" in page
    assert developers.iam_group_name in page
    assert "arn:aws:iam::aws:policy/AmazonEC2FullAccess" in page
    assert "Password change required at first sign-in" in page
    assert "a new access key" in page
    assert 'name="digest"' in page
    assert not AccessRequest.objects.exists()


def test_confirming_the_review_submits_and_tells_who_decides(client, employee, developers):
    client.force_login(employee)
    review = client.post(URL, answers(developers, step="review"))
    digest = review.context["digest"]

    response = client.post(URL, answers(developers, step="confirm", digest=digest), follow=True)

    [created] = AccessRequest.objects.all()
    assert created.requester == employee
    assert created.role_group == developers
    assert response.redirect_chain[-1][0] == reverse("my_access")
    assert f"Request #{created.pk} sent to Morgan Manager for approval." in text(response)


def test_back_from_the_review_shows_the_answers_again(client, employee, developers):
    client.force_login(employee)
    response = client.post(URL, answers(developers, step="edit"))
    assert response.status_code == 200
    assert WHY in text(response)
    assert not AccessRequest.objects.exists()


def test_a_person_without_a_manager_is_told_at_submission(client, developers, security_admin):
    loner = UserFactory()
    client.force_login(loner)
    review = client.post(URL, answers(developers, step="review"))
    response = client.post(
        URL, answers(developers, step="confirm", digest=review.context["digest"]), follow=True
    )
    assert "You have no manager in the portal" in text(response)
    assert AccessRequest.objects.filter(requester=loner).count() == 1


def test_a_person_with_an_iam_user_is_told_the_request_changes_it(client, employee, developers):
    account = IamAccountFactory(owner=employee, user_name="erin")
    GrantFactory(iam_account=account, role_group=RoleGroupFactory())
    client.force_login(employee)

    assert "changes to your existing IAM user erin" in text(client.get(URL))
    review = text(client.post(URL, answers(developers, step="review")))
    assert "Changes to your existing IAM user <code>erin</code>" in review


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"role_group": "999999"}, "That role-group does not exist or is no longer offered."),
        ({"role_group": "not-a-number"}, "That role-group does not exist"),
        ({"justification": "Because."}, "Explain why in at least 20 characters"),
        ({"justification": "x" * 1001}, "Keep the justification to 1000 characters"),
        ({"end_date": "2001-01-01"}, "The end date cannot be in the past."),
        ({"access_type": "root"}, "Select a valid choice"),
        ({"same_as": "nobody@example.com"}, "No active colleague has that email address."),
    ],
)
@pytest.mark.parametrize("step", ["review", "confirm"])
def test_bad_input_gives_a_clear_message_and_creates_nothing(
    client, employee, developers, overrides, message, step
):
    client.force_login(employee)
    response = client.post(URL, {**answers(developers, step=step), **overrides})
    assert response.status_code == 200
    assert message in text(response)
    assert not AccessRequest.objects.exists()


def test_an_end_date_past_the_maximum_gives_a_clear_message(client, employee):
    limited = RoleGroupFactory(name="Admins (test)", max_duration_days=90)
    too_late = (timezone.localdate() + timedelta(days=120)).isoformat()
    client.force_login(employee)
    response = client.post(URL, answers(limited, end_date=too_late, step="review"))
    assert "can be held for at most 90 days" in text(response)
    assert not AccessRequest.objects.exists()


def test_a_duplicate_open_request_gives_a_clear_message(client, employee, developers):
    AccessRequestFactory(
        requester=employee, role_group=developers, access_type="console", justification=WHY
    )
    client.force_login(employee)
    response = client.post(URL, answers(developers, step="review"))
    assert f"You already have an open request for {developers.name}" in text(response)
    assert AccessRequest.objects.count() == 1


def test_tampered_hidden_fields_at_confirm_send_nothing_and_show_the_review_again(
    client, employee, developers
):
    other = RoleGroupFactory(name="Other (test)")
    client.force_login(employee)
    review = client.post(URL, answers(developers, step="review"))
    digest = review.context["digest"]

    response = client.post(URL, answers(other, step="confirm", digest=digest))

    assert response.status_code == 200
    assert "The request changed after you reviewed it" in text(response)
    assert "Other (test)" in text(response)  # the review now shows what would really be sent
    assert not AccessRequest.objects.exists()


def test_a_confirm_without_a_review_sends_nothing(client, employee, developers):
    client.force_login(employee)
    client.post(URL, answers(developers, step="confirm"))
    assert not AccessRequest.objects.exists()


def test_the_same_access_as_a_colleague_lists_every_copied_group_before_sending(
    client, employee, developers
):
    colleague = UserFactory(email="colleague@example.com")
    account = IamAccountFactory(owner=colleague, user_name="colleague")
    analysts = RoleGroupFactory(name="Analysts (test)")
    for group in (developers, analysts):
        GrantFactory(iam_account=account, role_group=group)
    client.force_login(employee)

    review = client.post(URL, answers(same_as="Colleague@Example.com", step="review"))
    assert developers.name in text(review) and analysts.name in text(review)
    response = client.post(
        URL,
        answers(same_as="colleague@example.com", step="confirm", digest=review.context["digest"]),
        follow=True,
    )

    assert "2 requests sent to Morgan Manager" in text(response)
    assert AccessRequest.objects.filter(requester=employee, copied_from=colleague).count() == 2


def test_choosing_both_a_role_group_and_a_colleague_is_refused(client, employee, developers):
    colleague = UserFactory()
    client.force_login(employee)
    response = client.post(URL, answers(developers, same_as=colleague.email, step="review"))
    assert "not both" in text(response)


def test_the_access_of_someone_outside_the_team_is_neither_shown_nor_copied(client, employee):
    stranger = UserFactory(email="stranger@example.com", department="Finance", manager=None)
    account = IamAccountFactory(owner=stranger, user_name="stranger")
    hidden = RoleGroupFactory(name="Secret ops (test)", active=False)  # not in the form's list
    GrantFactory(iam_account=account, role_group=hidden)
    client.force_login(employee)
    response = client.post(URL, answers(same_as="stranger@example.com", step="review"))
    page = text(response)
    assert "You can copy the access of a colleague on your team" in page
    assert "Secret ops (test)" not in page
    assert not AccessRequest.objects.exists()


def test_a_justification_of_megabytes_gets_a_form_error_not_a_bare_400(
    client, employee, developers
):
    client.force_login(employee)
    response = client.post(URL, answers(developers, step="review", justification="x" * 3_000_000))
    assert response.status_code == 200
    assert "Keep the justification to 1000 characters" in text(response)
