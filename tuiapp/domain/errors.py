"""Typed errors that the UI and the CLI show to the operator as they are (French text)."""

from __future__ import annotations

from collections.abc import Iterable


class TuiappError(Exception):
    """Base class for errors whose message is meant for the operator."""


class ValidationError(TuiappError, ValueError):
    """A value was refused; the message names the field (in French).

    ``errors`` holds every refused field of the form (field -> French message),
    this one first: a form shows each beside its field.
    """

    def __init__(self, field: str, label: str, message: str) -> None:
        self.field = field
        self.label = label
        self.message = message
        self.errors = {field: message}
        super().__init__(f"{label} : {message}")

    @classmethod
    def every(cls, problems: Iterable[ValidationError]) -> ValidationError:
        """One error for all the problems of a form: the first one's field and message, and
        ``errors`` for all (one per field, the first found); its text has one line each."""
        by_field: dict[str, ValidationError] = {}
        for problem in problems:
            by_field.setdefault(problem.field, problem)
        first, *_ = by_field.values()
        error = cls(first.field, first.label, first.message)
        error.errors = {field: problem.message for field, problem in by_field.items()}
        error.args = ("\n".join(str(problem) for problem in by_field.values()),)
        return error
