from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from provisioning.models import RoleGroup


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
