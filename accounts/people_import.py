"""HR's CSV import of people: all or nothing, every problem of the file reported at once."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

import audit
from accounts import roles
from accounts.errors import ImportProblem, ImportRejected
from accounts.invitations import invitations_send
from accounts.models import EmploymentStatus, User
from accounts.selectors import email_domain_problem, is_current
from accounts.services import (
    VIA_IMPORT,
    announce_org_chart_change,
    email_of,
    mark_placed,
    record_person_created,
    record_person_updated,
    require_people_manager,
)

IMPORT_COLUMNS = ("email", "full_name", "department", "manager_email")
IMPORT_MAX_ROWS = 10_000
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length or 254
FULL_NAME_MAX_LENGTH = User._meta.get_field("full_name").max_length or 200
DEPARTMENT_MAX_LENGTH = User._meta.get_field("department").max_length or 100


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    full_name: str
    department: str
    manager_email: str


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
        }

    def summary(self) -> str:
        c = self.counts
        return f"{c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged."


def people_import(
    *, actor: User | None, content: bytes, source: str = "", ip: str | None = None
) -> ImportResult:
    """Create or update the people in a CSV file, all or nothing.

    Steps: check the actor is HR (None means the command line); decode and parse the file;
    check every row against the file and the directory, collecting every problem; if there
    is any, raise ImportRejected and write nothing; otherwise, in one transaction, create the
    new people (unusable password, Employees group), update the changed ones, set managers
    once everyone exists, and write `person.created`/`person.updated` per person and one
    `people.imported` with the counts."""
    require_people_manager(actor)
    rows, problems, emails_in_file = _parse(content)
    # Rows that are fine on their own are still checked against the directory, so that one
    # upload reports every problem in the file.
    problems += _check_against_directory(rows, emails_in_file)
    if problems:
        raise ImportRejected(sorted(problems, key=lambda p: p.line))
    with transaction.atomic():
        result = _apply(rows, actor=actor, ip=ip)
        audit.record(
            "people.imported",
            actor=actor,
            target="people",
            data={**result.counts, "rows": len(rows), "source": source[:200]},
            ip=ip,
        )
    return result


def _decode(content: bytes) -> tuple[str | None, ImportProblem | None]:
    try:
        # utf-8-sig: spreadsheet programs often start a UTF-8 CSV with a byte-order mark.
        return content.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        return None, ImportProblem(
            line, "the file is not UTF-8 text; save it from your spreadsheet as CSV UTF-8."
        )


def _parse(content: bytes) -> tuple[list[ImportRow], list[ImportProblem], set[str]]:
    """Rows that are well-formed on their own, the problems of those that are not, and every
    valid email in the file (a row with another problem still names a person in the file)."""
    text, problem = _decode(content)
    if problem is not None or text is None:
        return [], [problem] if problem else [], set()
    reader = csv.reader(io.StringIO(text, newline=""))
    expected = ", ".join(IMPORT_COLUMNS)
    try:
        header = next(reader, None)
    except csv.Error as error:
        return [], [ImportProblem(1, f"the header row cannot be read as CSV ({error}).")], set()
    if header is None or not any(cell.strip() for cell in header):
        return (
            [],
            [ImportProblem(1, f"the file is empty; the first line must be: {expected}")],
            set(),
        )
    names = [cell.strip().lower() for cell in header]
    missing = [name for name in IMPORT_COLUMNS if name not in names]
    unknown = [name for name in names if name not in IMPORT_COLUMNS]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if missing or unknown or repeated:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(repr(name) for name in unknown))
        if repeated:
            parts.append("repeated column(s) " + ", ".join(repeated))
        return [], [ImportProblem(1, f"{'; '.join(parts)}. The header must be: {expected}")], set()
    position = {name: names.index(name) for name in IMPORT_COLUMNS}

    rows: list[ImportRow] = []
    problems: list[ImportProblem] = []
    first_line_of: dict[str, int] = {}
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(ImportProblem(line, f"cannot be read as CSV ({error})."))
            break
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) + len(problems) >= IMPORT_MAX_ROWS:
            problems.append(
                ImportProblem(start, f"the file has more than {IMPORT_MAX_ROWS} rows; split it.")
            )
            break
        row, row_problems = _parse_row(start, cells, position, first_line_of)
        problems.extend(row_problems)
        if row is not None:
            rows.append(row)
    if not rows and not problems:
        problems.append(ImportProblem(2, "the file has a header but no people."))
    return rows, problems, set(first_line_of)


def _parse_row(
    line: int, cells: list[str], position: dict[str, int], first_line_of: dict[str, int]
) -> tuple[ImportRow | None, list[ImportProblem]]:
    if len(cells) != len(position):
        return None, [
            ImportProblem(
                line,
                f"expected {len(position)} values ({', '.join(IMPORT_COLUMNS)}), "
                f"found {len(cells)}.",
            )
        ]
    if any("\x00" in cell for cell in cells):
        # A database refuses NUL characters in text: say where, rather than fail later.
        return None, [ImportProblem(line, "contains a NUL character; remove it and try again.")]
    value = {name: cells[index].strip() for name, index in position.items()}
    email = value["email"].lower()
    manager_email = value["manager_email"].lower()
    problems = []

    def bad(message: str) -> None:
        problems.append(ImportProblem(line, message))

    email_problem = _email_problem(email, "email") or email_domain_problem(email)
    if email_problem:
        bad(email_problem)
    elif email in first_line_of:
        bad(f"{email} appears twice in the file (first on line {first_line_of[email]}).")
    else:
        first_line_of[email] = line
    if not value["full_name"]:
        bad("full_name is empty.")
    elif len(value["full_name"]) > FULL_NAME_MAX_LENGTH:
        bad(f"full_name is longer than {FULL_NAME_MAX_LENGTH} characters.")
    if len(value["department"]) > DEPARTMENT_MAX_LENGTH:
        bad(f"department is longer than {DEPARTMENT_MAX_LENGTH} characters.")
    if manager_email:
        manager_email_problem = _email_problem(
            manager_email, "manager_email"
        ) or email_domain_problem(manager_email)
        if manager_email_problem:
            bad(manager_email_problem)
        elif manager_email == email:
            bad(f"{email} cannot be their own manager.")
    if problems:
        return None, problems
    return ImportRow(line, email, value["full_name"], value["department"], manager_email), []


def _email_problem(email: str, column: str) -> str | None:
    if not email:
        return f"{column} is empty."
    if len(email) > EMAIL_MAX_LENGTH:
        return f"{column} is longer than {EMAIL_MAX_LENGTH} characters."
    try:
        validate_email(email)
    except ValidationError:
        return f"{column} {email!r} is not a valid email address."
    return None


def _directory_by_email(emails: set[str]) -> dict[str, User]:
    people = (
        User.objects.select_related("manager")
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
    )
    return {person.email_lower: person for person in people}


def _check_against_directory(
    rows: list[ImportRow], emails_in_file: set[str]
) -> list[ImportProblem]:
    """Problems that need the directory: people who left, unknown managers, loops."""
    if not rows:
        return []
    known = _directory_by_email({row.email for row in rows} | {row.manager_email for row in rows})
    problems: list[ImportProblem] = []
    for row in rows:
        person = known.get(row.email)
        if person is not None and not is_current(person):
            problems.append(
                ImportProblem(
                    row.line,
                    f"{row.email} has left the organisation; the import does not bring "
                    "people back.",
                )
            )
        if not row.manager_email or row.manager_email in emails_in_file:
            continue
        manager = known.get(row.manager_email)
        if manager is None:
            problems.append(
                ImportProblem(
                    row.line,
                    f"manager {row.manager_email} is neither in the directory nor in the file.",
                )
            )
        elif not is_current(manager):
            problems.append(
                ImportProblem(row.line, f"manager {row.manager_email} has left the organisation.")
            )
    problems.extend(_management_loops(rows))
    return problems


def _management_loops(rows: list[ImportRow]) -> list[ImportProblem]:
    """Rows that would put a person in a loop of managers, once the file is applied.

    Everyone's manager after the import is the file's manager for people in the file and
    the directory's for everyone else, so walk up that combined chain from each row."""
    in_file = {row.email: row for row in rows}
    directory_manager = {
        email.lower(): (manager or "").lower()
        for email, manager in User.objects.values_list("email", "manager__email")
    }

    def manager_of(email: str) -> str:
        row = in_file.get(email)
        return row.manager_email if row is not None else directory_manager.get(email, "")

    problems = []
    for row in rows:
        chain = [row.email]
        above = manager_of(row.email)
        while above and above not in chain:
            chain.append(above)
            above = manager_of(above)
        if above == row.email:
            loop = " → ".join([*chain, row.email])
            problems.append(ImportProblem(row.line, f"managers would form a loop: {loop}."))
    return problems


def _apply(rows: list[ImportRow], *, actor: User | None, ip: str | None) -> ImportResult:
    result = ImportResult()
    now = timezone.now()
    wanted_managers = {row.email: row.manager_email for row in rows}
    existing = _directory_by_email(set(wanted_managers) | set(wanted_managers.values()))

    new_people = []
    for row in rows:
        if row.email in existing:
            continue
        person = User(
            email=row.email,
            full_name=row.full_name,
            department=row.department,
            employment_status=EmploymentStatus.ACTIVE,
        )
        # Whoever creates a person has placed them: they cannot approve for them for a while.
        mark_placed(person, actor=actor, now=now)
        # They set their own password through the invitation; nobody else ever knows it.
        person.set_unusable_password()
        new_people.append(person)
    User.objects.bulk_create(new_people)
    people = _directory_by_email(set(wanted_managers) | set(wanted_managers.values()))
    employees = Group.objects.get(name=roles.EMPLOYEES)
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=people[p.email].pk, group_id=employees.pk) for p in new_people]
    )

    # New people only need their manager now that everyone exists: one UPDATE per manager,
    # far cheaper than bulk_update's CASE over thousands of rows.
    new_by_manager: dict[int, list[int]] = defaultdict(list)
    changed_people = []
    moved_people = []
    for row in rows:
        person = people[row.email]
        manager = people.get(row.manager_email) if row.manager_email else None
        if row.email not in existing:
            if manager is not None:
                new_by_manager[manager.pk].append(person.pk)
            result.created.append(row.email)
            record_person_created(
                actor=actor, person=person, manager_email=row.manager_email, via=VIA_IMPORT, ip=ip
            )
            continue
        before = {
            "full_name": person.full_name,
            "department": person.department,
            "manager": email_of(person.manager).lower(),
        }
        after = {
            "full_name": row.full_name,
            "department": row.department,
            "manager": row.manager_email,
        }
        if before == after:
            result.unchanged.append(row.email)
            continue
        person.full_name = row.full_name
        person.department = row.department
        if before["manager"] != after["manager"]:
            mark_placed(person, actor=actor, now=now)
            moved_people.append(person)
        person.manager = manager
        changed_people.append(person)
        result.updated.append(row.email)
        record_person_updated(
            actor=actor, person=person, before=before, after=after, via=VIA_IMPORT, ip=ip
        )
    for manager_pk, report_pks in new_by_manager.items():
        User.objects.filter(pk__in=report_pks).update(manager_id=manager_pk)
    User.objects.bulk_update(
        changed_people,
        ["full_name", "department", "manager", "placed_by", "placed_at"],
        batch_size=500,
    )
    announce_org_chart_change(moved_people, actor=actor, ip=ip)
    invitations_send(
        [people[person.email] for person in new_people], actor=actor, via=VIA_IMPORT, ip=ip
    )
    return result
