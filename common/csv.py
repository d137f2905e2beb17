"""CSV files people open in spreadsheets: one escaper for every file the portal writes.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula, and a leading
tab or carriage return lets one slip past that check (OWASP's CSV injection). Such a cell is
written with a leading apostrophe, which spreadsheets show as text and do not evaluate."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(value: Any) -> Any:
    """The cell as it is safe to write: text that a spreadsheet would evaluate gets a leading
    apostrophe; numbers and everything else are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose every cell passes `neutralise`."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A whole small CSV file as text, every cell through `neutralise`."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
