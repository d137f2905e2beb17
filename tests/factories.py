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
from provisioning.guardrails.models import (
    ComplianceSnapshot,
    DriftFinding,
    GuardrailNotice,
    GuardrailRun,
    KeyAgeExtension,
    KeyRotation,
    MfaEnrolment,
)
from provisioning.models import (
    AccessKeyRecord,
    AccessRequest,
    AccessReview,
    Approval,
    CredentialLink,
    Grant,
    IamAccount,
    LeaverNotice,
    Offboarding,
    OffboardingSchedule,
    ReviewItem,
    RoleGroup,
    ScimIdentity,
    ScimToken,
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
    # Synced to AWS (people can request it); pass synced_at=None for a new, unsynced one.
    synced_at = factory.LazyFunction(timezone.now)


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


class OffboardingScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OffboardingSchedule

    person = factory.SubFactory(UserFactory)
    scheduled_by = factory.SubFactory(UserFactory)
    last_working_day = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=7))


# --- Guardrails ------------------------------------------------------------------------------


class GuardrailRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GuardrailRun

    job = GuardrailRun.Job.DRIFT
    period = factory.Sequence(lambda n: f"manual-test-{n}")


class MfaEnrolmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MfaEnrolment

    iam_account = factory.SubFactory(IamAccountFactory)
    serial_number = factory.LazyAttribute(
        lambda o: f"arn:aws:iam::123456789012:mfa/{o.iam_account.user_name}"
    )


class KeyRotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyRotation

    iam_account = factory.SubFactory(IamAccountFactory)
    requested_by = factory.LazyAttribute(lambda o: o.iam_account.owner)
    old_access_key_id = factory.Sequence(lambda n: f"AKIAOLD{n:013d}")


class GuardrailNoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GuardrailNotice

    iam_account = factory.SubFactory(IamAccountFactory)
    kind = GuardrailNotice.Kind.KEY_AGE_REMINDER
    key = factory.Sequence(lambda n: f"test-notice-{n}")
    credential = factory.Sequence(lambda n: f"AKIANOTICE{n:010d}")


class KeyAgeExtensionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyAgeExtension

    iam_account = factory.SubFactory(IamAccountFactory)
    access_key_id = factory.Sequence(lambda n: f"AKIAEXT{n:013d}")
    extended_by = factory.SubFactory(UserFactory)
    reason = "Needed by the nightly batch until it moves to a role."
    days = 30


class DriftFindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DriftFinding

    kind = DriftFinding.Kind.UNMANAGED_USER
    iam_user_name = factory.Sequence(lambda n: f"outsider-{n}")
    last_seen_at = factory.LazyFunction(timezone.now)


class ComplianceSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComplianceSnapshot

    taken_at = factory.LazyFunction(timezone.now)
    passed = 8
    total = 10
    controls = factory.LazyFunction(list)


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


class ScimTokenFactory(factory.django.DjangoModelFactory):
    """A live token with every scope; its plain value is not known (see `scim_token`)."""

    class Meta:
        model = ScimToken

    name = factory.Sequence(lambda n: f"idp-{n}")
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    scopes = factory.LazyFunction(lambda: list(ScimToken.Scope.values))


class ScimIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScimIdentity

    person = factory.SubFactory(UserFactory)
    user_name = factory.LazyAttribute(lambda o: o.person.email)


class LeaverNoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeaverNotice

    person = factory.SubFactory(UserFactory)
    source = "scim:okta"
    reason = LeaverNotice.Reason.DEACTIVATED
