"""A CUPS printer: its name, as the settings give it, and the job number ``lp`` answers.

CUPS names a printer with up to 127 printable characters, none of space, tab, ``/``,
``\\``, ``'``, ``"``, ``,`` and ``#`` (lpadmin(8)); tuiapp also refuses a leading ``-``, which
``lp`` would read as an option.
"""

from __future__ import annotations

import re

from tuiapp.domain.errors import ValidationError
from tuiapp.domain.safe_text import describe_char, find_control

PRINTER_NAME_MAX = 127
_FORBIDDEN = " \t/\\'\",#"
#: CUPS's answer: "request id is NAME-12 (1 file(s))".
_REQUEST_ID = re.compile(r"request id is (\S+)")


def check_printer_name(value: str, *, field: str = "printer", label: str = "Imprimante") -> str:
    """The printer's name, trimmed; a ``ValidationError`` in French when CUPS could not have it."""
    name = value.strip()
    if not name:
        raise ValidationError(field, label, "indiquez le nom de l'imprimante CUPS (lpstat -p les liste).")
    if (char := find_control(name)) is not None:
        raise ValidationError(field, label, f"le nom contient un caractère interdit ({describe_char(char)}).")
    if bad := next((char for char in name if char in _FORBIDDEN), None):
        shown = "un espace" if bad == " " else "une tabulation" if bad == "\t" else f"le caractère « {bad} »"
        raise ValidationError(field, label, f"{shown} est impossible dans un nom d'imprimante CUPS (« {name} »).")
    if name.startswith("-"):
        raise ValidationError(field, label, f"un nom d'imprimante ne commence pas par « - » (« {name} »).")
    if len(name) > PRINTER_NAME_MAX:
        raise ValidationError(field, label, f"{PRINTER_NAME_MAX} caractères au plus ({len(name)} donnés).")
    return name


def job_id(reply: str) -> str | None:
    """The job CUPS made, from ``lp``'s answer ("request id is NAME-12 (1 file(s))"), or None."""
    found = _REQUEST_ID.search(reply)
    return found.group(1) if found else None
