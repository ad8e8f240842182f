"""CSV for a spreadsheet (French Excel first): cells that cannot run, accents that show.

- A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return would be read as a formula: it gets a leading ``'`` (OWASP, "CSV
  injection"). Numbers (ids, amounts, negative ones too) stay numbers.
- No control character reaches the file (``safe_text.printable``).
- ``;`` between cells and a decimal comma, as French Excel expects; UTF-8
  with a byte order mark, without which Excel shows the accents garbled.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from tuiapp.domain.safe_text import printable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: object) -> str:
    """A text cell that a spreadsheet shows as text, never runs."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return printable(text)


def number_cell(value: int | Decimal) -> str:
    """A number as French Excel reads it: ``-1234,56`` (no thousands separator)."""
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    return str(int(value))


def cell(value: object) -> str:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return number_cell(value)
    return text_cell(value)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """The whole file: BOM, header, one line per row (CRLF, as RFC 4180 and Excel have it)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([text_cell(name) for name in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")
