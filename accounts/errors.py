"""Domain errors of the people app. Views turn them into messages; commands into exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class PeopleError(Exception):
    """A change to people that the portal refuses, with a message fit to show the user."""


class NotAllowed(PeopleError):
    """The actor may not make this change."""


@dataclass(frozen=True)
class ImportProblem:
    """One bad row of a people CSV: where it is and what is wrong with it."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


class ImportRejected(PeopleError):
    """The whole file was refused; nothing was written. Carries every problem found."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(
            f"Nothing was imported: {count} problem{'s' if count != 1 else ''} in the file."
        )
