"""Reading an export of the billing software: a CSV or XLSX file as a ``Table`` of text cells.

Every cell comes out as ``str`` (an XLSX date as ``2024-09-28``, a number as its
decimal text), with the line number a spreadsheet user would see: the importers
(``import_residents``, ``import_invoices``) parse and validate the text, and
report problems by that line number. A file that cannot be read at all raises
``ImportFileError``, with a French message; nothing is written.

The content decides the format, not the name: a ZIP is read as a workbook
(``import_xlsx``, whatever its extension), text as CSV (``import_csv``). A file
named as a workbook that is text, an old ``.xls`` or a password-protected
workbook (both OLE files), binary data, a file over ``MAX_FILE_SIZE`` are refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tuiapp.services.import_csv import read_csv
from tuiapp.services.import_table import ImportFileError, Row, Table, named
from tuiapp.services.import_xlsx import read_xlsx

__all__ = ["MAX_FILE_SIZE", "ImportFileError", "Row", "Table", "read_table"]

MB = 1024 * 1024
MAX_FILE_SIZE = 200 * MB  # an export of 50,000 rows is about 10 MB
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xls", ".xlsb", ".ods"}


def read_table(path: Path, *, sheet: str | None = None, encoding: str | None = None,
               delimiter: str | None = None) -> Table:
    """The file's first non-blank line as headers, then its rows (blank rows left out).

    ``sheet`` (XLSX), ``encoding`` and ``delimiter`` (CSV): override what is detected;
    each is ignored for the other format.
    """
    path = Path(path)
    data = _read_bytes(path)
    if not data:
        raise ImportFileError(f"{named(path)} est vide.")
    if data.startswith(_OLE_MAGIC):
        raise ImportFileError(f"{named(path)} est un classeur Excel ancien (.xls) ou protégé par un mot de passe : "
                              "enregistrez-le en .xlsx sans mot de passe, ou en CSV.")
    if data.startswith(_ZIP_MAGIC):
        return read_xlsx(path, data, sheet=sheet)
    if path.suffix.lower() in _WORKBOOK_SUFFIXES:
        raise ImportFileError(f"{named(path)} n'est pas un classeur {path.suffix.lower()} (son contenu n'est pas "
                              "une archive XLSX) : s'il s'agit d'un export texte, renommez-le en .csv.")
    return read_csv(path, data, encoding=encoding, delimiter=delimiter)


def _read_bytes(path: Path) -> bytes:
    try:
        status = os.stat(path)
        if stat.S_ISDIR(status.st_mode):
            raise ImportFileError(f"{named(path)} est un dossier, pas un fichier.")
        if not stat.S_ISREG(status.st_mode):  # a FIFO would block, /dev/zero never end
            raise ImportFileError(f"{named(path)} n'est pas un fichier ordinaire.")
        _check_size(path, status.st_size)
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise ImportFileError(f"{named(path)} ne peut pas être lu ({exc.strerror or type(exc).__name__}).") from None
    _check_size(path, len(data))
    return data


def _check_size(path: Path, size: int) -> None:
    if size > MAX_FILE_SIZE:
        raise ImportFileError(f"{named(path)} fait {size / MB:.0f} Mo : {MAX_FILE_SIZE // MB} Mo au plus.")
