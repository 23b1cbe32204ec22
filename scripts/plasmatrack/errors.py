"""Errors that users see: each names the file, and where it applies the row and the field."""

from __future__ import annotations


class PlasmatrackError(Exception):
    """Base class for errors meant for the user (printed without a traceback by the CLI)."""


class InputError(PlasmatrackError):
    """Bad input: a message per problem, each naming file, row and field where known."""

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def where(path: object, row: int | None = None, field: str | None = None) -> str:
    """Format a location: ``file.tsv, row 3, column 'sample_id'`` (row = line number in the file)."""
    parts = [str(path)]
    if row is not None:
        parts.append(f"row {row}")
    if field is not None:
        parts.append(f"column '{field}'")
    return ", ".join(parts)
