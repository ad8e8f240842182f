"""Typed errors that the UI and the CLI show to the operator as they are (French text)."""


class TuiappError(Exception):
    """Base class for errors whose message is meant for the operator."""


class ValidationError(TuiappError, ValueError):
    """A value was refused; the message names the field (in French)."""

    def __init__(self, field: str, label: str, message: str) -> None:
        self.field = field
        self.label = label
        self.message = message
        super().__init__(f"{label} : {message}")
