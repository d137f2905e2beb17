from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import User
from provisioning.credentials import links
from provisioning.models import (
    AccessKeyRecord,
    AccessRequest,
    AccessReview,
    Approval,
    CredentialLink,
    Grant,
    IamAccount,
    Offboarding,
    ReviewItem,
    RoleGroup,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    department = "Engineering"
    password = factory.PostGenerationMethodCall("set_password", "portal-test-pass")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            self.save()
            names = [roles.EMPLOYEES, *(extracted or [])]
            self.groups.add(*Group.objects.filter(name__in=names))


class RoleGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleGroup

    name = factory.Sequence(lambda n: f"Role group {n}")
    description = "For tests."
    iam_group_name = factory.Sequence(lambda n: f"test-group-{n}")
    managed_policy_arns = factory.LazyFunction(lambda: ["arn:aws:iam::aws:policy/ReadOnlyAccess"])


class IamAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IamAccount

    owner = factory.SubFactory(UserFactory)
    user_name = factory.Sequence(lambda n: f"iam-user-{n}")
    arn = factory.LazyAttribute(lambda o: f"arn:aws:iam::123456789012:user/{o.user_name}")


def _first_stage(request: Any) -> Any:
    from provisioning.requests.selectors import first_stage_route

    return first_stage_route(request.requester)


class AccessRequestFactory(factory.django.DjangoModelFactory):
    """A pending request for a role-group, by default; pass `status=` for another stage. Its
    first-stage approver is fixed as submission would fix it (the requester's manager)."""

    class Meta:
        model = AccessRequest

    requester = factory.SubFactory(UserFactory)
    role_group = factory.SubFactory(RoleGroupFactory)
    access_type = AccessRequest.AccessType.CONSOLE
    justification = "Needed for the quarterly close, for tests."
    first_approver = factory.LazyAttribute(lambda o: _first_stage(o).approver)
    route = factory.LazyAttribute(lambda o: _first_stage(o).route)


class ApprovalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Approval

    request = factory.SubFactory(AccessRequestFactory)
    approver = factory.SubFactory(UserFactory)
    stage = Approval.Stage.MANAGER
    decision = Approval.Decision.APPROVED


class GrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grant

    iam_account = factory.SubFactory(IamAccountFactory)
    role_group = factory.SubFactory(RoleGroupFactory)


class AccessReviewFactory(factory.django.DjangoModelFactory):
    """An open campaign over every grant, due in two weeks (items are added by the test)."""

    class Meta:
        model = AccessReview

    name = factory.Sequence(lambda n: f"Access review {n}")
    started_by = factory.SubFactory(UserFactory)
    deadline = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=14))
    at_deadline = AccessReview.AtDeadline.ESCALATE


class ReviewItemFactory(factory.django.DjangoModelFactory):
    """A grant to review, by the holder's manager unless `reviewer=` says otherwise."""

    class Meta:
        model = ReviewItem

    campaign = factory.SubFactory(AccessReviewFactory)
    grant = factory.SubFactory("tests.factories.GrantFactory")
    holder = factory.LazyAttribute(lambda o: o.grant.iam_account.owner)
    reviewer = factory.LazyAttribute(lambda o: o.holder.manager)
    route = factory.LazyAttribute(
        lambda o: ReviewItem.Route.MANAGER if o.reviewer else ReviewItem.Route.NO_MANAGER
    )


class AccessKeyRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessKeyRecord

    iam_account = factory.SubFactory(IamAccountFactory)
    access_key_id = factory.Sequence(lambda n: f"AKIATEST{n:012d}")


class CredentialLinkFactory(factory.django.DjangoModelFactory):
    """A link still collecting (not issued); `issued_link` below makes a working one."""

    class Meta:
        model = CredentialLink

    iam_account = factory.SubFactory(IamAccountFactory)
    recipient = factory.LazyAttribute(lambda o: o.iam_account.owner)


class TotpAuthenticatorFactory(factory.django.DjangoModelFactory):
    """allauth's record that a person set up TOTP (its secret is not needed by these tests)."""

    class Meta:
        model = Authenticator

    user = factory.SubFactory(UserFactory)
    type = Authenticator.Type.TOTP
    data = factory.LazyFunction(dict)


class OffboardingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offboarding

    person = factory.SubFactory(UserFactory)
    started_by = factory.SubFactory(UserFactory)


# --- Credential links ------------------------------------------------------------------------

PASSWORD = "Xy7!generated-console-pass"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def issued_link(
    owner: Any, *, password: str | None = PASSWORD, secret: str | None = SECRET
) -> tuple[CredentialLink, str]:
    """A credential link issued to `owner` for their IAM user, sealed with these values:
    the link and the path its email would carry."""
    account, _ = IamAccount.objects.get_or_create(
        owner=owner,
        user_name=owner.email.split("@")[0],
        defaults={"arn": f"arn:aws:iam::123456789012:user/{owner.email.split('@')[0]}"},
    )
    link = links.credential_link_pending(iam_account=account)
    if password:
        links.credential_link_seal_password(link=link, password=password)
    if secret:
        links.credential_link_seal_access_key(
            link=link, access_key_id=KEY_ID, secret_access_key=secret
        )
    token = links.credential_link_issue(link=link)
    return link, reverse("credential_link", args=[token])
