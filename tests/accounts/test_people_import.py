from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.errors import ImportRejected, NotAllowed
from accounts.models import EmploymentStatus, User
from accounts.people_import import people_import
from audit.models import AuditEvent
from tests.factories import UserFactory

HEADER = "email,full_name,department,manager_email\n"
# The report comes before their manager: a manager may be defined anywhere in the file.
GOOD = (
    HEADER
    + "erin@example.com,Erin Engineer,Engineering,dana@example.com\n"
    + "dana@example.com,Dana Director,Engineering,\n"
    + "sam@example.com,Sam Sales,Sales,manager@example.com\n"
)


def _import(text: str, actor: Any = None) -> Any:
    return people_import(actor=actor, content=text.encode(), source="people.csv")


def _problems(text: str) -> list[str]:
    with pytest.raises(ImportRejected) as rejected:
        _import(text)
    return [str(problem) for problem in rejected.value.problems]


def test_import_creates_people_with_their_managers(manager: Any, hr_person: Any) -> None:
    result = _import(GOOD, actor=hr_person)
    assert result.counts == {"created": 3, "updated": 0, "unchanged": 0}
    erin = User.objects.get(email="erin@example.com")
    assert erin.full_name == "Erin Engineer"
    assert erin.department == "Engineering"
    assert erin.manager.email == "dana@example.com"
    assert User.objects.get(email="dana@example.com").manager is None
    assert User.objects.get(email="sam@example.com").manager == manager


def test_new_people_have_no_usable_password_and_are_employees(db: None) -> None:
    _import(HEADER + "erin@example.com,Erin Engineer,Engineering,\n")
    erin = User.objects.get(email="erin@example.com")
    assert not erin.has_usable_password()
    assert list(erin.groups.values_list("name", flat=True)) == [roles.EMPLOYEES]
    assert erin.is_active
    assert erin.employment_status == EmploymentStatus.ACTIVE


def test_import_is_audited_per_person_and_as_a_whole(manager: Any, hr_person: Any) -> None:
    _import(GOOD, actor=hr_person)
    created = AuditEvent.objects.filter(action="person.created")
    assert sorted(event.data["email"] for event in created) == [
        "dana@example.com",
        "erin@example.com",
        "sam@example.com",
    ]
    assert {event.actor_id for event in created} == {hr_person.pk}
    summary = AuditEvent.objects.get(action="people.imported")
    assert summary.actor_id == hr_person.pk
    assert summary.data == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rows": 3,
        "source": "people.csv",
    }


def test_importing_the_same_file_again_changes_nothing(manager: Any) -> None:
    _import(GOOD)
    before = list(User.objects.order_by("pk").values())
    result = _import(GOOD)
    assert result.counts == {"created": 0, "updated": 0, "unchanged": 3}
    assert list(User.objects.order_by("pk").values()) == before
    assert AuditEvent.objects.filter(action="person.created").count() == 3
    assert not AuditEvent.objects.filter(action="person.updated").exists()


def test_import_updates_people_already_in_the_directory(manager: Any, employee: Any) -> None:
    result = _import(HEADER + "EMPLOYEE@example.com,Erin Renamed,Finance,\n")
    assert result.counts == {"created": 0, "updated": 1, "unchanged": 0}
    employee.refresh_from_db()
    assert (employee.full_name, employee.department, employee.manager) == (
        "Erin Renamed",
        "Finance",
        None,
    )
    event = AuditEvent.objects.get(action="person.updated")
    assert event.data["before"] == {
        "full_name": "Erin Employee",
        "department": "Engineering",
        "manager": "manager@example.com",
    }
    assert event.data["after"] == {
        "full_name": "Erin Renamed",
        "department": "Finance",
        "manager": "",
    }


def test_import_accepts_a_spreadsheet_byte_order_mark_and_blank_lines(db: None) -> None:
    content = ("\ufeff" + HEADER + "\nerin@example.com,Erin,Eng,\n\n").encode()
    assert people_import(actor=None, content=content).counts["created"] == 1


def test_columns_may_come_in_any_order(db: None) -> None:
    _import("full_name,manager_email,email,department\nErin,,erin@example.com,Eng\n")
    assert User.objects.get(email="erin@example.com").full_name == "Erin"


def test_one_bad_row_imports_nothing_and_names_the_line(manager: Any) -> None:
    text = GOOD + "not-an-email,Bad Row,Sales,\n"
    assert _problems(text) == ["Line 5: email 'not-an-email' is not a valid email address."]
    assert not User.objects.filter(email__in=["erin@example.com", "dana@example.com"]).exists()
    assert not AuditEvent.objects.filter(action__startswith="person").exists()
    assert not AuditEvent.objects.filter(action="people.imported").exists()


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (
            "a@example.com,A,Eng,\na@example.com,A again,Eng,\n",
            "Line 3: a@example.com appears twice in the file (first on line 2).",
        ),
        (
            "a@example.com,A,Eng,ghost@example.com\n",
            "Line 2: manager ghost@example.com is neither in the directory nor in the file.",
        ),
        (
            "a@example.com,A,Eng,a@example.com\n",
            "Line 2: a@example.com cannot be their own manager.",
        ),
        (
            "a@example.com,A,Eng,not an email\n",
            "Line 2: manager_email 'not an email' is not a valid email address.",
        ),
        ("a@example.com,,Eng,\n", "Line 2: full_name is empty."),
        (",A,Eng,\n", "Line 2: email is empty."),
        (
            "a@example.com,A,Eng\n",
            "Line 2: expected 4 values (email, full_name, department, manager_email), found 3.",
        ),
        (f"a@example.com,{'n' * 201},Eng,\n", "Line 2: full_name is longer than 200 characters."),
        (f"a@example.com,A,{'d' * 101},\n", "Line 2: department is longer than 100 characters."),
        (f"{'e' * 250}@example.com,A,Eng,\n", "Line 2: email is longer than 254 characters."),
        (
            "a@example.com,A,Eng,leaver@example.com\n",
            "Line 2: manager leaver@example.com has left the organisation.",
        ),
        (
            "leaver@example.com,Back Again,Eng,\n",
            "Line 2: leaver@example.com has left the organisation; the import does not bring "
            "people back.",
        ),
    ],
)
def test_bad_rows_are_reported_with_line_and_reason(db: None, rows: str, problem: str) -> None:
    UserFactory(
        email="leaver@example.com", is_active=False, employment_status=EmploymentStatus.LEFT
    )
    assert problem in _problems(HEADER + rows)
    assert not User.objects.filter(email="a@example.com").exists()


def test_a_loop_of_managers_in_the_file_is_reported_on_each_line(db: None) -> None:
    text = (
        HEADER
        + "a@example.com,A,,b@example.com\nb@example.com,B,,c@example.com\n"
        + ("c@example.com,C,,a@example.com\n")
    )
    loop = (
        "Line {}: managers would form a loop: {}@example.com → {}@example.com → {}@example.com → "
    )
    loop += "{}@example.com."
    assert _problems(text) == [
        loop.format(2, "a", "b", "c", "a"),
        loop.format(3, "b", "c", "a", "b"),
        loop.format(4, "c", "a", "b", "c"),
    ]


def test_a_loop_through_someone_already_in_the_directory_is_reported(
    manager: Any, employee: Any
) -> None:
    # The directory says employee → manager; the file would make manager report to employee.
    problems = _problems(HEADER + "manager@example.com,Morgan Manager,Eng,employee@example.com\n")
    assert problems == [
        "Line 2: managers would form a loop: manager@example.com → employee@example.com → "
        "manager@example.com."
    ]


def test_every_bad_row_is_reported_not_just_the_first(db: None) -> None:
    text = HEADER + "bad,A,,\nok@example.com,OK,,\nalso bad,B,,\n"
    assert [problem.split(":")[0] for problem in _problems(text)] == ["Line 2", "Line 4"]


def test_a_manager_on_a_bad_row_is_not_also_reported_as_unknown(db: None) -> None:
    text = HEADER + "boss@example.com,,Eng,\nann@example.com,Ann,Eng,boss@example.com\n"
    assert _problems(text) == ["Line 2: full_name is empty."]


def test_line_numbers_count_lines_inside_quoted_values(db: None) -> None:
    text = HEADER + '"a@example.com","Ann\nSecond line",Eng,\nbad,B,,\n'
    assert _problems(text) == ["Line 4: email 'bad' is not a valid email address."]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "",
            "Line 1: the file is empty; the first line must be: email, full_name, department, "
            "manager_email",
        ),
        (
            "email,full_name,department\na@example.com,A,Eng\n",
            "Line 1: missing column(s) manager_email. The header must be: email, full_name, "
            "department, manager_email",
        ),
        (
            "email,name,department,manager_email\n",
            "Line 1: missing column(s) full_name; unknown column(s) 'name'.",
        ),
        (
            "a@example.com,A,Eng,\n",
            "Line 1: missing column(s) email, full_name, department, manager_email",
        ),
        (HEADER, "Line 2: the file has a header but no people."),
    ],
)
def test_the_header_row_is_required(db: None, text: str, problem: str) -> None:
    [found] = _problems(text)
    assert found.startswith(problem)


def test_a_file_that_is_not_utf8_names_the_line(db: None) -> None:
    content = (HEADER + "a@example.com,A,Eng,\n").encode() + "b@example.com,Bé,Eng,\n".encode(
        "latin-1"
    )
    with pytest.raises(ImportRejected) as rejected:
        people_import(actor=None, content=content)
    assert str(rejected.value.problems[0]).startswith("Line 3: the file is not UTF-8 text")


def test_only_hr_may_import(employee: Any) -> None:
    with pytest.raises(NotAllowed):
        _import(GOOD, actor=employee)


# --- The command ------------------------------------------------------------------------------


def test_command_imports_and_prints_the_counts(manager: Any, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(GOOD)
    out = StringIO()
    call_command("import_people", str(path), stdout=out)
    assert out.getvalue().strip() == "3 created, 0 updated, 0 unchanged."
    out = StringIO()
    call_command("import_people", str(path), stdout=out)
    assert out.getvalue().strip() == "0 created, 0 updated, 3 unchanged."
    assert AuditEvent.objects.filter(action="people.imported", actor_label="system").count() == 2


def test_command_records_the_actor_given(manager: Any, hr_person: Any, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(GOOD)
    call_command("import_people", str(path), "--actor", "hr@example.com", stdout=StringIO())
    assert AuditEvent.objects.get(action="people.imported").actor_id == hr_person.pk


def test_command_lists_every_problem_and_exits_non_zero(db: None, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "bad,A,,\nok@example.com,OK,,\nx@example.com,X,,x@example.com\n")
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing was imported: 2 problems"):
        call_command("import_people", str(path), stderr=err)
    assert err.getvalue().splitlines() == [
        "Line 2: email 'bad' is not a valid email address.",
        "Line 4: x@example.com cannot be their own manager.",
    ]
    assert not User.objects.filter(email="ok@example.com").exists()


def test_command_says_when_the_file_cannot_be_read(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_people", str(tmp_path / "absent.csv"))


# --- The upload form --------------------------------------------------------------------------


def _upload(client: Client, text: str | bytes, name: str = "people.csv") -> Any:
    content = text.encode() if isinstance(text, str) else text
    return client.post(reverse("people_import"), {"file": SimpleUploadedFile(name, content)})


def test_hr_uploads_a_file_and_sees_the_counts(
    client: Client, hr_person: Any, manager: Any
) -> None:
    client.force_login(hr_person)
    response = _upload(client, GOOD)
    assert response.status_code == 302
    assert response["Location"] == reverse("people_directory")
    page = client.get(response["Location"]).content.decode()
    assert "Import done: 3 created, 0 updated, 0 unchanged." in page
    assert "Erin Engineer" in page
    assert AuditEvent.objects.get(action="people.imported").ip == "127.0.0.1"


def test_upload_with_bad_rows_lists_them_and_imports_nothing(
    client: Client, hr_person: Any, manager: Any
) -> None:
    client.force_login(hr_person)
    response = _upload(client, GOOD + "bad,A,,\nz@example.com,Z,,nobody@example.com\n")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported: 2 problems in the file." in page
    assert "<td>5</td><td>email &#x27;bad&#x27; is not a valid email address.</td>" in page
    assert "<td>6</td><td>manager nobody@example.com is neither in the directory" in page
    assert not User.objects.filter(email="erin@example.com").exists()


def test_upload_without_a_file_asks_for_one(client: Client, hr_person: Any) -> None:
    client.force_login(hr_person)
    response = client.post(reverse("people_import"), {})
    assert "This field is required." in response.content.decode()


def test_upload_refuses_a_file_over_the_size_limit(client: Client, hr_person: Any) -> None:
    client.force_login(hr_person)
    response = _upload(client, HEADER + "x" * (2 * 1024 * 1024))
    assert "The file is larger than 2 MB; split it." in response.content.decode()


@pytest.mark.django_db
def test_a_nul_byte_is_reported_on_its_line_and_nothing_is_imported() -> None:
    text = HEADER + "ok@example.com,Ok Person,Ops,\n" + "nul@example.com,Nu\x00ll,Ops,\n"
    assert _problems(text) == ["Line 3: contains a NUL character; remove it and try again."]
    assert not User.objects.filter(email__in=["ok@example.com", "nul@example.com"]).exists()


@pytest.mark.django_db
def test_an_outside_email_domain_is_reported_on_its_line(settings: Any) -> None:
    settings.PORTAL_ALLOWED_EMAIL_DOMAINS = ["example.com", "example.org"]
    text = HEADER + "a@example.org,A,Ops,\n" + "b@attacker.example,B,Ops,a@example.org\n"
    assert _problems(text) == [
        "Line 3: b@attacker.example is not an address of the organisation "
        "(allowed: @example.com, @example.org)."
    ]


def test_an_oversized_upload_stops_being_read_at_the_limit() -> None:
    import io

    from django.http.multipartparser import MultiPartParser
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    from accounts.forms import IMPORT_MAX_BYTES
    from accounts.uploads import LimitedUpload

    body = encode_multipart(
        BOUNDARY, {"file": SimpleUploadedFile("big.csv", HEADER.encode() + b"x" * 20_000_000)}
    )
    stream = io.BytesIO(body)
    handler = LimitedUpload(limit=IMPORT_MAX_BYTES)
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}
    _, files = MultiPartParser(meta, stream, [handler]).parse()
    assert handler.exceeded and "file" not in files
    # Read up to the limit and a chunk past it, not the 20 MB.
    assert stream.tell() < IMPORT_MAX_BYTES + 2 * 1024 * 1024


def test_hr_is_told_a_file_over_the_limit_is_too_large(client: Client, hr_person: Any) -> None:
    client.force_login(hr_person)
    response = _upload(client, HEADER + "x" * (6 * 1024 * 1024))
    assert "The file is larger than 2 MB; split it." in response.content.decode()
    assert not User.objects.filter(email="x").exists()
