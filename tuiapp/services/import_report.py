"""What an import found and did: its problems, one per bad cell, and its counts.

The report is French, one line per problem:
``ligne 12, colonne Montant HT : valeur « 12,345 » : deux décimales au plus (les centimes).``
Values are shown through ``printable`` (a hostile cell never reaches the terminal raw)
and cut to ``VALUE_SHOWN`` characters (a 1 MB cell is not printed whole).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tuiapp.domain.safe_text import printable
from tuiapp.services.atomic_files import write_atomically
from tuiapp.services.csv_export import csv_bytes

VALUE_SHOWN = 60
#: How a note that is a warning begins (a value left as it was: the import still goes on).
WARNING_PREFIX = "Avertissement"


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # the file's line number (0: the file as a whole, e.g. a missing column)
    column: str  # the column's header as in the file ("" when the problem is not one cell's)
    value: str
    reason: str

    @property
    def shown_value(self) -> str:
        text = printable(self.value)
        return text if len(text) <= VALUE_SHOWN else text[: VALUE_SHOWN - 1] + "…"

    def __str__(self) -> str:
        where = f"ligne {self.line}" if self.line else "fichier"
        if self.column:
            where += f", colonne {printable(self.column)}"
        return f"{where} : valeur « {self.shown_value} » : {printable(self.reason)}"


@dataclass
class ImportResult:
    """``created``/``updated``/``unchanged``: rows (residents or invoices) by what became of them;
    ``mailed_changed``: numbers of invoices already mailed that the file changes (refused
    without ``--update-mailed``); ``written``: whether the database was changed."""

    kind: str  # "residents", "invoices" or "pdfs"
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    mailed_changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # French lines worth saying (PDFs matched to nothing ...)
    written: bool = False

    @property
    def refused(self) -> bool:
        return bool(self.problems)


def write_report(path: Path, problems: list[Problem]) -> None:
    """``--report FILE.csv``: one row per problem (ligne; colonne; valeur; raison), written whole or
    not at all, as the history's export is: UTF-8 with BOM so that a spreadsheet opens its accents
    right, and a leading apostrophe on a cell that a spreadsheet would take for a formula (the
    imported file's ``=cmd|' /C calc'!A0`` is shown, never run). Raises ``OSError``."""
    rows = [[problem.line, problem.column, problem.value, problem.reason] for problem in problems]
    write_atomically(Path(path), csv_bytes(["ligne", "colonne", "valeur", "raison"], rows))
