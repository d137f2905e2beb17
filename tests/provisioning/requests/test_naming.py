from __future__ import annotations

import pytest

from provisioning.requests.naming import (
    candidate_names,
    iam_user_name_for,
    is_valid_iam_user_name,
    names_taken_except_by,
)
from tests.factories import AccessRequestFactory, IamAccountFactory, UserFactory


def nothing_taken(name: str) -> bool:
    return False


def test_the_name_is_the_local_part_of_the_email_in_lower_case():
    assert iam_user_name_for("J.Smith@Example.com", is_taken=nothing_taken) == "j.smith"


def test_characters_iam_refuses_are_replaced_and_accents_dropped():
    name = iam_user_name_for("josé o'neil+aws@example.com", is_taken=nothing_taken)
    assert name == "jose-o-neil+aws"
    assert is_valid_iam_user_name(name)


def test_every_candidate_is_a_valid_iam_user_name_even_for_a_very_long_email():
    email = ("a" * 80) + "@" + ("b" * 80) + ".example.com"
    names = [name for _, name in zip(range(6), candidate_names(email), strict=False)]
    assert all(is_valid_iam_user_name(name) for name in names)
    assert all(len(name) <= 64 for name in names)
    assert len(set(names)) == len(names)


def test_a_taken_local_part_falls_back_to_the_whole_address():
    taken = {"j.smith"}
    assert iam_user_name_for("j.smith@b.com", is_taken=taken.__contains__) == "j.smith@b.com"


def test_the_choice_is_deterministic():
    taken = {"j.smith", "j.smith@b.com"}
    first = iam_user_name_for("j.smith@b.com", is_taken=taken.__contains__)
    second = iam_user_name_for("j.smith@b.com", is_taken=taken.__contains__)
    assert first == second
    assert first.startswith("j.smith-")
    assert first not in taken


def test_names_are_compared_without_case():
    taken = {"j.smith"}
    assert iam_user_name_for("J.SMITH@b.com", is_taken=taken.__contains__) != "j.smith"


@pytest.mark.django_db
def test_people_with_the_same_local_part_get_different_names_from_the_database():
    first = UserFactory(email="j.smith@a.com")
    second = UserFactory(email="j.smith@b.com")
    IamAccountFactory(owner=first, user_name="J.Smith")
    name = iam_user_name_for(second.email, is_taken=names_taken_except_by(second.pk))
    assert name == "j.smith@b.com"


@pytest.mark.django_db
def test_a_name_decided_for_someone_elses_request_is_taken_but_ones_own_is_not():
    first = UserFactory(email="j.smith@a.com")
    second = UserFactory(email="j.smith@b.com")
    AccessRequestFactory(
        requester=first, access_type="console", justification="x" * 20, iam_user_name="j.smith"
    )
    assert names_taken_except_by(second.pk)("j.smith")
    assert not names_taken_except_by(first.pk)("j.smith")
