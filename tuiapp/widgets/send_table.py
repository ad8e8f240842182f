"""The sending tab's table: the invoices that can be mailed, their send state, which are ticked."""

from __future__ import annotations

import gc
from dataclasses import replace
from decimal import Decimal

from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tuiapp.db.database import fold
from tuiapp.db.models import SendStatus
from tuiapp.db.queries import SendRow
from tuiapp.widgets import send_cells as cells
from tuiapp.widgets.form import cursor_key

FIRST_ROWS = 60  # drawn at once
MORE_ROWS = 250  # then this many at a time, letting the screen breathe in between
UNSENDABLE = ("other", "unknown", "sending")  # cannot be ticked ("queued": sending it takes up that record)
NAME_MAX = 32  # the width of the names' column on a wide terminal
MAILED = ("sent", "partial")  # states of an invoice mailed by this tab, its time not read again yet


class SendTable(DataTable):
    """One row per invoice (``send_cells.COLUMNS``); its parent reads ``ticked`` and sends those."""

    class CurrentChanged(Message):
        """The row under the cursor is another one, or was drawn again: ``row`` (None: no rows) in ``state``."""

        def __init__(self, row: SendRow | None, state: str) -> None:
            super().__init__()
            self.row = row
            self.state = state

    def __init__(self, **options) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **options)
        self.invoices: dict[int, SendRow] = {}
        self.states: dict[int, str] = {}  # a status of the outbox, or "other": being sent elsewhere
        self.ticked: set[int] = set()
        self.own_batch: str | None = None  # the parent's batch: its records in flight are not "other"
        self._pending: list[SendRow] = []
        self._frozen = False

    def on_mount(self) -> None:
        for column in cells.COLUMNS:
            self.add_column(column.label, key=column.key, width=column.width)

    # Every column has a fixed width and every row a height of one line: what DataTable measures
    # for auto widths and heights is of no use here, and it measured each cell of each new row
    # (2,000 rows: 1.6 s of the 4.2 s the tab took to fill, profiled on the loaded 2-core machine),
    # and each updated cell, and, when one came out narrower, the whole column again (2,000 cells
    # for one state drawn). The scrollable size is still computed (``super``, with no rows to measure).
    # Textual 8's private hooks: tests/test_send_browser.py checks the rows are drawn whole.
    def _update_dimensions(self, new_rows) -> None:
        super()._update_dimensions(())

    def _update_column_widths(self, updated_cells) -> None:
        pass

    def on_resize(self) -> None:
        """Wider than 80 columns, the names get the room (up to ``NAME_MAX``): fewer are cut."""
        fixed = sum(column.width + 2 * self.cell_padding for column in cells.COLUMNS)
        spare = max(self.scrollable_content_region.width - fixed, 0)
        name = self.columns.get(ColumnKey("name"))
        width = min(cells.COLUMNS[1].width + spare, NAME_MAX)
        if name is not None and name.width != width:
            name.width = width
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()

    def on_unmount(self) -> None:
        if self._frozen:
            gc.unfreeze()  # the closed table is collected again (and whatever else was frozen)

    def state_of(self, row: SendRow) -> str:
        if row.send_status == SendStatus.SENDING and row.send_batch != self.own_batch:
            return "other"
        return row.send_status or ""

    def fill(self, rows: list[SendRow]) -> None:
        """Show these rows, the ones never mailed ticked; a screenful at once, the rest in chunks."""
        self.invoices = {row.invoice_id: row for row in rows}
        self.states = {row.invoice_id: self.state_of(row) for row in rows}
        self.ticked = {row.invoice_id for row in rows if row.last_mailed_at is None and self.sendable(row.invoice_id)}
        self.clear()
        self._pending = rows
        self._add_rows(FIRST_ROWS)
        self.current_changed()

    def current_changed(self) -> None:
        row = self.current_invoice()
        self.post_message(self.CurrentChanged(row, self.states.get(row.invoice_id, "") if row else ""))

    def on_data_table_row_highlighted(self) -> None:
        self.current_changed()  # (the message goes on to the parent too)

    def _add_rows(self, count: int) -> None:
        chunk, self._pending = self._pending[:count], self._pending[count:]
        for row in chunk:
            self.add_row(*cells.row_cells(row, row.invoice_id in self.ticked, self.states.get(row.invoice_id, "")),
                         key=str(row.invoice_id))
        if self._pending:
            self.set_timer(0.01, lambda: self._add_rows(MORE_ROWS))
        elif not self._frozen:
            # The table's cells live as long as the tab: out of the collector's full passes.
            # Measured (benchmarks/tui_bench.py, 2,000 rows, a batch of 200, two runs each on the
            # 2-core machine while other work ran): the full passes during the batch took 557 and
            # 1,069 ms at the longest without this, 359 and 240 ms with it. Undone when the tab closes.
            gc.freeze()
            self._frozen = True

    @property
    def loaded(self) -> bool:
        """Every row is in the table."""
        return not self._pending

    def sendable(self, invoice_id: int) -> bool:
        return self.states.get(invoice_id) not in UNSENDABLE

    def current_invoice(self) -> SendRow | None:
        invoice_id = cursor_key(self)
        return self.invoices.get(invoice_id) if invoice_id is not None else None

    def ticked_rows(self) -> list[SendRow]:
        return [row for invoice_id, row in self.invoices.items() if invoice_id in self.ticked]

    def ticked_total(self) -> Decimal:
        return sum((self.invoices[i].amount_ht for i in self.ticked), Decimal("0.00"))

    def redraw(self, invoice_id: int, keys=("check", "state", "mailed")) -> None:
        """Redraw the cells that can change (each update costs a refresh)."""
        if str(invoice_id) not in self.rows:
            return  # not added yet: it will be drawn from the current state
        drawn = cells.cells(self.invoices[invoice_id], invoice_id in self.ticked, self.states.get(invoice_id, ""), keys)
        for key, value in drawn.items():
            self.update_cell(str(invoice_id), key, value)
        if invoice_id == cursor_key(self):
            self.current_changed()

    def tick_current(self) -> bool:
        """Tick or untick the row under the cursor, then move down; False if it cannot be ticked."""
        row = self.current_invoice()
        if row is None:
            return True
        if row.invoice_id in self.ticked:
            self.ticked.discard(row.invoice_id)
        elif self.sendable(row.invoice_id):
            self.ticked.add(row.invoice_id)
        else:
            return False
        self.redraw(row.invoice_id, ("check",))
        self.action_cursor_down()
        return True

    def tick_only(self, invoice_ids: set[int]) -> None:
        self.ticked = set(invoice_ids)
        for invoice_id in self.invoices:
            self.redraw(invoice_id, ("check",))

    def choose(self, which: str) -> None:
        """Tick ``all``, ``none``, the ``unsent`` or ``invert`` (among those that can be ticked)."""
        sendable = {i for i in self.invoices if self.sendable(i)}
        self.tick_only({
            "all": sendable,
            "none": set(),
            "unsent": {i for i in sendable if self.invoices[i].last_mailed_at is None},
            "invert": sendable - self.ticked,
        }[which])

    def set_state(self, invoice_id: int, state: str) -> None:
        """A send's progress: an invoice done is no longer ticked."""
        if invoice_id not in self.invoices:
            return
        self.states[invoice_id] = state
        if state != "sending":
            self.ticked.discard(invoice_id)
        self.redraw(invoice_id, ("check", "state"))

    def merge(self, rows: list[SendRow]) -> None:
        """States and last-mailed times read again; an invoice mailed meanwhile (elsewhere) is unticked."""
        for row in rows:
            before = self.invoices.get(row.invoice_id)
            if before is None:
                continue
            state = self.state_of(row)
            changed = state != self.states.get(row.invoice_id) or row.last_mailed_at != before.last_mailed_at
            # kept even unchanged on screen: a state this tab's batch set has its record's id only here
            self.invoices[row.invoice_id], self.states[row.invoice_id] = row, state
            if changed:
                if (before.last_mailed_at is None and row.last_mailed_at is not None) or not self.sendable(row.invoice_id):
                    self.ticked.discard(row.invoice_id)  # sent from elsewhere: never again by default
                self.redraw(row.invoice_id)
        self.current_changed()  # its place in the service's queue may have changed, shown in the detail

    def set_queue_places(self, places: dict[int, int]) -> None:
        """Service mode, while this tab follows its batch: each waiting invoice's place in the queue."""
        for invoice_id, place in places.items():
            if invoice_id in self.invoices:
                self.invoices[invoice_id] = replace(self.invoices[invoice_id], queue_position=place)
        self.current_changed()

    # -- moving around ---------------------------------------------------------------

    def _ids_from_cursor(self, *, after: bool) -> list[int]:
        """Every invoice in the table's order, from the cursor's (``after``: the one after it) round
        to the top again."""
        ids = list(self.invoices)  # read in the table's order
        current = cursor_key(self)
        start = ids.index(current) + after if current in self.invoices else 0
        return ids[start:] + ids[:start]

    def matches(self, text: str) -> list[int]:
        """The invoices whose resident's name or number holds ``text`` (case and accents ignored),
        in the table's order."""
        needle = fold(text.strip())
        if not needle:
            return []
        return [invoice_id for invoice_id, row in self.invoices.items()
                if needle in fold(row.resident) or needle in fold(row.number)]

    def next_match(self, text: str) -> int | None:
        """The next invoice after the cursor that matches, round to the top; None if no other does."""
        found = set(self.matches(text))
        return next((i for i in self._ids_from_cursor(after=True)[:-1] if i in found), None)

    def next_unsent(self) -> int | None:
        """The next invoice after the cursor never mailed, round to the top; None if no other."""
        return next((i for i in self._ids_from_cursor(after=True)[:-1]
                     if self.invoices[i].last_mailed_at is None and self.states.get(i) not in MAILED), None)

    def go_to(self, invoice_id: int) -> None:
        """Put the cursor on this invoice (the rows not drawn yet are drawn first)."""
        if str(invoice_id) not in self.rows and self._pending:
            self._add_rows(len(self._pending))
        self.move_cursor(row=self.get_row_index(str(invoice_id)))
