"""The detail lines under the sending tab's table: all the seed asks of the row under the cursor.

The table is compact so that 80 columns hold it whole; these three lines give the
rest: the whole name and whether the resident has left, the date *and time* of the
last send or printing, both addresses, the document (facture or avoir, its PDF
imported or generated) and, in service mode, its place in the service's queue.
"""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tuiapp.db.queries import SendRow
from tuiapp.widgets import send_cells as cells
from tuiapp.widgets.plain import cell


def moment_in_full(moment: datetime) -> str:
    """``03/10/2024 à 14:05``, local time."""
    return moment.astimezone().strftime("%d/%m/%Y à %H:%M")


def when(row: SendRow) -> str:
    if row.last_mailed_at is not None:
        return f"Envoyée le {moment_in_full(row.last_mailed_at)}"
    if row.last_printed_at is not None:
        return f"Éditée le {moment_in_full(row.last_printed_at)}, pas envoyée"
    return "Ni envoyée ni éditée"


def address(label: str, value: str | None) -> Text:
    return Text.assemble(f"{label} : ", cell(value) if value and value.strip() else Text("aucune adresse", style="dim"))


def queue_place(row: SendRow, state_name: str) -> str:
    """Service mode: ``3e dans la file d'envoi`` while the invoice waits for the service."""
    if state_name != "queued" or row.queue_position is None:
        return ""
    return "1re dans la file d'envoi" if row.queue_position == 1 else f"{row.queue_position}e dans la file d'envoi"


def queue_places(ahead: int, waiting: list[tuple[int, int]]) -> dict[int, int]:
    """Each invoice's place in the service's queue, from ``(record id, invoice id)`` of those of
    a batch still waiting and the ``ahead`` records queued before the first of them. Exact when the
    batch's records follow one another in the queue (queued together); another operator's records
    queued between them at the same moment are not counted (the view does not list them)."""
    return {invoice_id: ahead + rank for rank, (_, invoice_id) in enumerate(sorted(waiting), 1)}


def detail_rows(row: SendRow | None, state_name: str) -> list[tuple[Text, Text]]:
    """Three (left, right) lines; the left is cut if too long, the right always shown whole."""
    if row is None:
        return [(Text("Aucune facture à envoyer pour cette période."), Text("")), (Text(""), Text("")),
                (Text(""), Text(""))]
    return [
        (cells.resident(row), Text(when(row))),
        (address("Courriel", row.email), cells.document(row)),
        (address("Tuteur", row.guardian_email), Text(queue_place(row, state_name), style="cyan")),
    ]


class SendDetail(Static):
    """Shows ``detail_rows`` of one row; its parent calls ``show`` as the cursor moves or the row changes."""

    def show(self, row: SendRow | None, state_name: str = "") -> None:
        grid = Table.grid(expand=True, padding=(0, 2))
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(no_wrap=True, justify="right")
        for left, right in detail_rows(row, state_name):
            grid.add_row(left, right)
        self.update(grid)
