"""CSV injection: every CSV the portal writes neutralises what a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

import audit
from common.csv import FORMULA_STARTS, SafeWriter, neutralise
from provisioning.credentials.passwords import PasswordPolicy, password_generate
from provisioning.credentials.reveal import RevealedCredentials

DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(1)", "\t=1", "\r=1", "=1+1@example.com"]


@pytest.mark.parametrize("cell", DANGEROUS)
def test_a_cell_a_spreadsheet_would_evaluate_is_written_as_text(cell: str) -> None:
    out = io.StringIO()
    SafeWriter(out).writerow([cell, "plain", 3])
    [row] = csv.reader(io.StringIO(out.getvalue()))
    assert row == ["'" + cell, "plain", "3"]


def test_plain_values_and_numbers_are_left_alone() -> None:
    assert neutralise("erin@example.com") == "erin@example.com"
    assert neutralise(-5) == -5
    assert neutralise("") == ""


@pytest.mark.django_db
def test_the_audit_export_neutralises_what_a_person_typed(auditor: Any) -> None:
    audit.record(
        "auth.sign_in_failed", data={"email": "=1+1@example.com"}, actor="=cmd|' /C calc'!A0"
    )
    client = Client()
    client.force_login(auditor)
    body = b"".join(client.get(reverse("audit_export")).streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    failed = next(row for row in rows if row[3] == "auth.sign_in_failed")
    assert failed[2] == "'=cmd|' /C calc'!A0"
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row)


def test_the_credentials_file_neutralises_a_user_name_and_keeps_the_secrets_intact() -> None:
    revealed = RevealedCredentials(
        user_name="=hyperlink",
        console_url="https://123456789012.signin.aws.amazon.com/console",
        password="Abc!def-ghi=jkl@mno+pq",
        access_key_id="AKIAEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    [_header, row] = list(csv.reader(io.StringIO(revealed.csv())))
    assert row[0] == "'=hyperlink"
    assert row[1] == revealed.password and row[3] == revealed.secret_access_key


def test_generated_passwords_never_start_with_a_formula_character() -> None:
    for policy in (PasswordPolicy(), PasswordPolicy(minimum_length=30, require_symbols=True)):
        for _ in range(3000):
            assert not password_generate(policy).startswith(FORMULA_STARTS)


@pytest.mark.django_db
def test_the_offboarding_report_csv_neutralises_a_hostile_name() -> None:
    from provisioning.offboarding.report import offboarding_report_csv
    from tests.factories import OffboardingFactory, UserFactory

    offboarding = OffboardingFactory(
        person=UserFactory(email="=hyperlink@example.com"),
        report={
            "accounts": [
                {
                    "user_name": "@evil",
                    "outcome": "deleted",
                    "kinds": {"groups": {"found": 1, "removed": 1, "remaining": 0}},
                }
            ]
        },
    )
    rows = list(csv.DictReader(io.StringIO(offboarding_report_csv(offboarding=offboarding))))
    assert rows[0]["person"] == "'=hyperlink@example.com"
    assert rows[0]["iam_user"] == "'@evil"
