"""What a read export is: a ``Table`` of text cells with their line numbers, or an ``ImportFileError``.

Kept apart from the readers (``import_csv``, ``import_xlsx``) so that both return the
same types; ``tuiapp.services.import_files`` is the one door the importers use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tuiapp.domain.errors import TuiappError
from tuiapp.domain.safe_text import printable


class ImportFileError(TuiappError):
    """The file cannot be read as a table (French message)."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # 1-based: the file's line (CSV, where the record starts) or the sheet's row (XLSX)
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    source: Path
    format: str  # "csv" or "xlsx"
    headers: tuple[str, ...]
    rows: list[Row] = field(repr=False)
    encoding: str | None = None  # CSV: "utf-8", "utf-8-sig", "cp1252"...
    delimiter: str | None = None  # CSV: ";", "," or "\t"
    sheet: str | None = None  # XLSX: the sheet read

    def cell(self, row: Row, column: int) -> str:
        """The row's text in that column; "" where the row is short."""
        return row.cells[column] if column < len(row.cells) else ""


def named(path: Path) -> str:
    """The file as a French message names it: « name », its control characters replaced."""
    return f"« {printable(str(path))} »"


def is_blank(cells: tuple[str, ...] | list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def split_header(path: Path, records: Iterable[Row]) -> tuple[tuple[str, ...], list[Row]]:
    """The first non-blank record as headers, the other non-blank records as rows."""
    kept = [row for row in records if not is_blank(row.cells)]
    if not kept:
        raise ImportFileError(f"{named(path)} est vide.")
    return kept[0].cells, kept[1:]
