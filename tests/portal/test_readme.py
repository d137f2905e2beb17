"""The README's table lists every environment variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_variables() -> set[str]:
    source = (ROOT / "portal" / "settings.py").read_text()
    read_by_helper = re.findall(r"\benv_(?:str|bool|int|list)\(\s*\"([A-Z][A-Z0-9_]*)\"", source)
    read_directly = re.findall(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]*)\"", source)
    return set(read_by_helper) | set(read_directly)


def readme_table_variables() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", readme, flags=re.MULTILINE))


def test_the_settings_read_the_variables_this_test_looks_for():
    found = settings_variables()
    # Guards the regexes: if these are not found, the parsing is broken, not the README.
    assert {"DJANGO_SECRET_KEY", "PORTAL_ENV", "CREDENTIAL_ENCRYPTION_KEYS", "AWS_REGION"} <= found


def test_every_environment_variable_the_settings_read_is_in_the_readme_table():
    missing = settings_variables() - readme_table_variables()
    assert not missing, f"add these to the README's environment table: {sorted(missing)}"


def test_the_readme_table_lists_no_variable_the_settings_do_not_read():
    stale = readme_table_variables() - settings_variables()
    assert not stale, f"the README lists variables the settings no longer read: {sorted(stale)}"
