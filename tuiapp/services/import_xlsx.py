"""Reading an XLSX export: the archive checked first, then one sheet's values as text (openpyxl, read-only).

Before openpyxl sees the file, its ZIP directory is read: an archive that would
inflate past ``MAX_UNCOMPRESSED``, a member inflating more than ``MAX_RATIO`` times
past ``RATIO_FLOOR`` (a ZIP bomb), an encrypted archive, or a ZIP that is no
workbook is refused. zipfile never inflates a member past the size its directory
declares, so the declared sizes bound what reading costs.

Values become text as a French user would type them: numbers in plain decimal
(``1234.56``, ``12``, no float artefacts), dates ``YYYY-MM-DD`` (a date-time keeps
its day), booleans ``VRAI``/``FAUX`` (as French Excel shows them, and never taken
for an amount), formulas their cached value (``""`` when the file has none).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tuiapp.domain.safe_text import printable
from tuiapp.services.import_table import ImportFileError, Row, Table, is_blank, named, split_header

MB = 1024 * 1024
MAX_UNCOMPRESSED = 300 * MB
MAX_RATIO = 200
RATIO_FLOOR = 10 * MB  # small members may inflate as much as they like (a sheet of empty rows does)
MAX_MEMBERS = 10_000
# openpyxl pads each row to its last cell: a cell at column XFD on every row costs 16,384
# values a row. A real export of 50,000 rows by 40 columns holds 2 million.
MAX_CELLS = 50_000_000


def check_archive(path: Path, data: bytes) -> None:
    """Refuse what is not a workbook, or would cost too much to open, before openpyxl reads it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception as exc:  # BadZipFile, EOFError, ValueError...: whatever a damaged directory raises
        raise ImportFileError(f"{named(path)} est une archive ZIP abîmée ou tronquée ({_exception_name(exc)}) : "
                              "ce n'est pas un classeur XLSX lisible.") from None
    if len(members) > MAX_MEMBERS:
        raise ImportFileError(f"{named(path)} contient {len(members)} fichiers : ce n'est pas un classeur XLSX "
                              "ordinaire (bombe ZIP ?), refusé.")
    total = sum(member.file_size for member in members)
    if total > MAX_UNCOMPRESSED:
        raise ImportFileError(f"{named(path)} se décompresserait en {total // MB} Mo "
                              f"(au plus {MAX_UNCOMPRESSED // MB} Mo) : refusé (bombe ZIP ?).")
    for member in members:
        if member.file_size > RATIO_FLOOR and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            ratio = member.file_size // max(member.compress_size, 1)
            raise ImportFileError(f"{named(path)} : « {printable(member.filename)} » se décompresserait {ratio} "
                                  f"fois (au plus {MAX_RATIO} fois) : refusé (bombe ZIP ?).")
        if member.flag_bits & 0x1:
            raise ImportFileError(f"{named(path)} est une archive chiffrée : enregistrez le classeur sans mot "
                                  "de passe.")
    names = {member.filename for member in members}
    if "[Content_Types].xml" in names and any(name.endswith("workbook.xml") for name in names):
        return
    if any(name.endswith("workbook.bin") for name in names):
        what = "un classeur Excel binaire (.xlsb)"
    elif "mimetype" in names and "content.xml" in names:
        what = "un document OpenDocument (.ods ?)"
    elif "word/document.xml" in names:
        what = "un document Word"
    else:
        what = "une archive ZIP"
    raise ImportFileError(f"{named(path)} est {what}, pas un classeur XLSX : enregistrez-le en .xlsx ou en CSV.")


def read_xlsx(path: Path, data: bytes, *, sheet: str | None) -> Table:
    check_archive(path, data)
    import openpyxl  # 0.12 s to import (measured): only when a workbook is read

    workbook = None
    try:
        with warnings.catch_warnings():  # "no default style", "extension not supported"...: nothing to act on
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            worksheet = _sheet(path, workbook, sheet)
            worksheet.reset_dimensions()  # a wrong <dimension> would cut rows or columns off
            headers, rows = split_header(path, _records(path, worksheet))
            title = worksheet.title
    except ImportFileError:
        raise
    except Exception as exc:  # openpyxl, zipfile, XML, a value out of range: the file is damaged
        raise ImportFileError(f"{named(path)} : fichier XLSX illisible ({_exception_name(exc)}).") from None
    finally:
        if workbook is not None:
            workbook.close()  # read-only mode keeps the archive open
    return Table(path, "xlsx", headers, rows, sheet=title)


def _exception_name(exc: Exception) -> str:
    """``ParseError``, ``BadZipFile``; ``zlib.error`` rather than a bare ``error``."""
    name = type(exc).__name__
    return name if name != "error" else f"{type(exc).__module__}.{name}"


def _sheet(path: Path, workbook: Any, name: str | None) -> Any:
    if name is None:
        if not workbook.worksheets:
            raise ImportFileError(f"{named(path)} ne contient aucune feuille de calcul.")
        return workbook.worksheets[0]
    titles = [sheet.title for sheet in workbook.worksheets]
    if name not in titles:  # Excel itself takes sheet names whatever their case
        alike = [title for title in titles if title.casefold() == name.casefold()]
        if len(alike) != 1:
            listed = ", ".join(f"« {printable(title)} »" for title in titles) or "aucune"
            raise ImportFileError(f"{named(path)} n'a pas de feuille « {printable(name)} » ; ses feuilles : {listed}.")
        name = alike[0]
    return workbook[name]


def _records(path: Path, worksheet: Any) -> Iterator[Row]:
    """Each non-empty row with its sheet row number, its trailing empty cells trimmed."""
    cells_seen = 0
    for number, values in enumerate(worksheet.iter_rows(min_row=1, min_col=1, values_only=True), start=1):
        cells_seen += len(values)
        if cells_seen > MAX_CELLS:
            most = f"{MAX_CELLS:,}".replace(",", "\u202f")
            raise ImportFileError(f"{named(path)} : plus de {most} cellules à lire (ligne {number}) : refusé.")
        cells = [cell_text(value) for value in values]
        while cells and not cells[-1]:
            cells.pop()
        if not is_blank(cells):
            yield Row(number, tuple(cells))


def cell_text(value: object) -> str:
    """A cell's value as the text a user would type."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)  # a duration ([h]:mm) as 1 day, 2:30:00


def decimal_text(value: float | Decimal) -> str:
    """Plain decimal, shortest form: 1234.56 -> "1234.56", 12.0 -> "12", 1e20 -> "100000000000000000000".
    A float has the 15 significant digits a spreadsheet keeps and shows: a formula's 0.1 + 0.2 is
    "0.3", not "0.30000000000000004" (which no amount would accept)."""
    number = Decimal(format(value, ".15g")) if isinstance(value, float) else value
    if not number.is_finite():
        return str(value)
    text = format(number.normalize(), "f")
    return "0" if text == "-0" else text
