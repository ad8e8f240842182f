"""Files of the billing software, written by the tests themselves: CSV in each form, XLSX
(openpyxl), and the database dump that tells whether an import changed anything."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from tuiapp.db.database import db

Rows = Sequence[Sequence[object]]


def write_csv(path: Path, headers: Sequence[str], rows: Rows, *, delimiter: str = ";",
              encoding: str = "utf-8") -> Path:
    """``encoding``: "utf-8", "utf-8-sig" (with BOM) or "cp1252"."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([["" if cell is None else str(cell) for cell in row] for row in rows])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, headers: Sequence[str], rows: Rows, *, sheet: str = "Export") -> Path:
    """Cells as given: ``str`` as text, ``Decimal``/``int`` as numbers, ``date`` as dates."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    page = book.create_sheet(sheet)
    page.append(list(headers))
    for row in rows:
        page.append([float(cell) if type(cell).__name__ == "Decimal" else cell for cell in row])
    book.save(path)
    return path


def dump() -> list:
    """Every statement that rebuilds the database (SQLite), or every row of every table in a
    fixed order (PostgreSQL): equal dumps, equal databases."""
    from tuiapp.db.database import is_postgres

    if not is_postgres():
        return list(db.connection().iterdump())
    from tests.raw import TABLES_HERE

    tables = [name for (name,) in db.execute_sql(TABLES_HERE + " ORDER BY table_name").fetchall()]
    rows: list = []
    for table in tables:
        cursor = db.execute_sql(f'SELECT * FROM "{table}"')  # (names read from the catalogue)
        rows += sorted((table, *map(repr, row)) for row in cursor.fetchall())
    rows += [("sequence", *row) for row in db.execute_sql(
        "SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename").fetchall()]
    return rows


RESIDENT_HEADERS = ("N° résident", "Structure", "Nom", "Prénom", "Courriel", "Mail tuteur")


def resident_rows(count: int, *, structure: str = "FH") -> list[list[object]]:
    return [[f"R{index:04d}", structure, f"NOM{index}", f"Prénom {index}", f"r{index}@example.org", ""]
            for index in range(1, count + 1)]
