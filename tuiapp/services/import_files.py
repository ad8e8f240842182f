"""Reading an export of the billing software: a CSV or XLSX file as a ``Table`` of text cells.

Every cell comes out as ``str`` (an XLSX date as ``2024-09-28``, a number as its
decimal text), with the line number a spreadsheet user would see: the importers
(``import_residents``, ``import_invoices``) parse and validate the text, and
report problems by that line number. A file that cannot be read at all raises
``ImportFileError``, with a French message; nothing is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from tuiapp.domain.errors import TuiappError


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


def read_table(path: Path, *, sheet: str | None = None, encoding: str | None = None,
               delimiter: str | None = None) -> Table:
    """The file's first line as headers, then its rows (blank rows left out).

    ``sheet``, ``encoding``, ``delimiter``: override what is detected.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"« {path} » ne peut pas être lu ({exc.strerror or type(exc).__name__}).") from None
    text = data.decode(encoding or "utf-8-sig")
    chosen = delimiter or ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=chosen)
    records = []
    for cells in reader:
        records.append(Row(reader.line_num, tuple(cells)))
    if not records:
        raise ImportFileError(f"« {path} » est vide.")
    headers, *rows = records
    return Table(path, "csv", headers.cells, [row for row in rows if any(c.strip() for c in row.cells)],
                 encoding=encoding or "utf-8", delimiter=chosen)
