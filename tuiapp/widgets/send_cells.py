"""The sending tab's table, defined once: its columns, how each cell of an invoice is drawn, its states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from tuiapp.db.queries import SendRow
from tuiapp.domain.formatting import departed_mark, format_amount
from tuiapp.domain.status import SendStatus
from tuiapp.sending import events as ev
from tuiapp.widgets.plain import cell

_STATUSES = {status.value for status in SendStatus}
#: Beside the send states: "other", being sent from another process, a printing, a rectification.
OTHER, PRINTED, RECTIFIED = "ailleurs", "éditée", "rectifiée"
STATE_STYLES = {"sent": "green", "partial": "yellow", "failed": "red", "unknown": "bold magenta",
                "sending": "cyan", "queued": "cyan", "other": "cyan"}
#: The states a rectification shows over: those of the version sent before it.
_BEFORE_RECTIFIED = {"", SendStatus.SENT, SendStatus.PARTIAL}
#: Where the attached PDF comes from.
PDF_IMPORTED, PDF_GENERATED = "PDF importé", "PDF généré"

#: The state an engine event leaves its invoice in ("other": claimed first by another process).
InvoiceStep = (ev.InvoiceClaimed | ev.InvoiceSent | ev.InvoicePartial | ev.InvoiceFailed | ev.InvoiceUnknown
               | ev.InvoiceSkipped | ev.InvoiceDeferred)
STATE_AFTER: dict[type[InvoiceStep], str] = {ev.InvoiceClaimed: "sending", ev.InvoiceSent: "sent", ev.InvoicePartial: "partial",
               ev.InvoiceFailed: "failed", ev.InvoiceUnknown: "unknown", ev.InvoiceSkipped: "other",
               ev.InvoiceDeferred: "queued"}


def check(ticked: bool) -> Text:
    return Text("☑" if ticked else "☐")


def state(row: SendRow, name: str) -> Text:
    """The invoice's send state (``name``: a ``SendStatus`` or "other"); "éditée" when
    it was printed and never mailed."""
    if name == "other":
        return Text(OTHER, style=STATE_STYLES[name])
    if row.rectified and name in _BEFORE_RECTIFIED:  # changed since it was mailed: to be sent again
        return Text(RECTIFIED, style="yellow")
    if name in _STATUSES:
        return Text(SendStatus(name).short_label, style=STATE_STYLES.get(name, ""))
    if row.last_mailed_at is None and row.last_printed_at is not None:
        return Text(PRINTED, style="dim")
    return Text("")


def moment_text(moment: datetime | None) -> str:
    """``03/10/24``, the local day (its time is in the detail lines); empty for ``None``."""
    return "" if moment is None else moment.astimezone().strftime("%d/%m/%y")


def last_sent(row: SendRow) -> str:
    """When the invoice was last mailed, else when it was last printed (the state says which)."""
    return moment_text(row.last_mailed_at or row.last_printed_at)


def document(row: SendRow) -> Text:
    """``Avoir, PDF importé``: the kind of document, and whether its own PDF is sent or one is generated."""
    kind = Text("Avoir", style="bold") if row.is_credit_note else Text("Facture")
    return Text.assemble(kind, ", ", PDF_IMPORTED if row.pdf_imported else PDF_GENERATED)


def resident(row: SendRow) -> Text:
    """The resident's name, marked when they have left (they are mailed all the same)."""
    return Text.assemble(cell(row.resident), (departed_mark(row.active), "italic"))


#: The marks column: a letter for each thing a row is besides an invoice to mail, spelled out
#: in the detail lines under the table: sorti(e), PDF importé, avoir.
DEPARTED_MARK, IMPORTED_MARK, CREDIT_MARK = "S", "P", "A"


def marks(row: SendRow) -> Text:
    """``SPA``: the resident has left (sorti(e)), the PDF is the billing software's own, an avoir."""
    return Text("".join((DEPARTED_MARK if not row.active else "", IMPORTED_MARK if row.pdf_imported else "",
                         CREDIT_MARK if row.is_credit_note else "")), style="bold")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int  # fixed: measuring the cells of thousands of rows would make the tab slow to open
    draw: Callable[[SendRow, bool, str], object]  # (row, ticked, state) -> the cell


#: In the table's order. With a padding of one on each side they fill the 78 columns an
#: 80-column terminal leaves beside the scroll bar exactly: no header is cut, nothing is to the
#: right. What does not fit (the whole name, both addresses, the date's time, what the marks
#: mean, the place in the service's queue) is in the detail lines for the row under the cursor.
COLUMNS = (
    Column("check", "✓", 1, lambda row, ticked, name: check(ticked)),
    Column("name", "Résident", 16, lambda row, ticked, name: cell(row.resident)),
    Column("number", "N°", 16, lambda row, ticked, name: cell(row.number)),
    Column("amount", "Montant HT", 11, lambda row, ticked, name: format_amount(row.amount_ht)),
    Column("state", "État", 9, lambda row, ticked, name: state(row, name)),
    Column("mailed", "Date", 8, lambda row, ticked, name: last_sent(row)),
    Column("marks", "+", 3, lambda row, ticked, name: marks(row)),
)
_BY_KEY = {column.key: column for column in COLUMNS}


def row_cells(row: SendRow, ticked: bool, state_name: str) -> list:
    """Every cell, in the columns' order (people's text never read as markup)."""
    return [column.draw(row, ticked, state_name) for column in COLUMNS]


def cells(row: SendRow, ticked: bool, state_name: str, keys: tuple[str, ...]) -> dict[str, object]:
    """The cells of these columns only (redrawing one costs a refresh)."""
    return {key: _BY_KEY[key].draw(row, ticked, state_name) for key in keys}
