"""Édition des contributions (Traitements): a period's invoices, printing, and the sending tabs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Header, ProgressBar, Select, Static, TabbedContent, TabPane

from tuiapp.db import queries
from tuiapp.db.models import Invoice, Structure
from tuiapp.domain.formatting import counted, format_amount, format_timestamp, period_label, plural
from tuiapp.domain.periods import Period
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_message, reports_database_errors
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.plain import cell, options

if TYPE_CHECKING:
    from tuiapp.app import TuiApp
    from tuiapp.screens.sending import SendingPanel

ALL = "all"
#: Rows read and shown at once when a period is chosen (a screenful and more); the rest is read
#: in a thread and added in chunks. 2,000 invoices read at once held the screen 650 ms.
FIRST_ROWS = 60
CHUNK_ROWS = 250
#: While a send runs in a tab of this screen, the Factures tab's counts and dates are read
#: again this often (seconds), in a thread.
FOLLOW_SEND_EVERY = 1.0
#: The sending tab's modules are loaded this long after the rows are first shown (seconds).
PRELOAD_AFTER = 0.3

Cells = tuple[Text, Text, str, str, str]
Stamps = tuple[datetime | None, datetime | None]  # last printed, last mailed


def row_cells(invoice: Invoice) -> Cells:
    """One invoice's cells in the Factures table."""
    return (cell(invoice.resident.display_name), cell(invoice.number), format_amount(invoice.amount_ht),
            format_timestamp(invoice.last_printed_at), format_timestamp(invoice.last_mailed_at))


def read_rows(query) -> list[tuple[int, Cells, Stamps]]:
    """(id, cells, stamps) of each invoice of ``query``: made where it is read (a thread, for most)."""
    return [(invoice.id, row_cells(invoice), (invoice.last_printed_at, invoice.last_mailed_at)) for invoice in query]


class ContributionsScreen(Screen[None]):
    CSS_PATH = "contributions.tcss"
    BINDINGS = [
        Binding("minus", "shift_period(1)", "Période préc.", id="contributions.previous", key_display="-"),
        Binding("plus", "shift_period(-1)", "Période suiv.", id="contributions.next", key_display="+"),
        Binding("p", "print", "Imprimer", id="contributions.print"),
        Binding("e", "open_sending", "Envoi par mail", id="contributions.mail"),
        Binding("ctrl+w", "close_tab", "Fermer l'onglet", id="contributions.close"),
        Binding("escape", "back", "Retour", id="contributions.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        # Read here: a database error stops the opening (said by the app), not compose.
        self.periods = queries.periods_with_invoices()
        self.structures = options((f"{s.code} - {s.name}", str(s.id)) for s in Structure.select().order_by(Structure.code))

    def compose(self) -> ComposeResult:
        periods, structures = self.periods, self.structures
        period_choices = [(period_label(p), str(p)) for p in periods]
        self.period_values = [value for _, value in period_choices]
        yield Header()
        yield Static("Traitements › Édition des contributions", classes="screen-title")
        with TabbedContent(id="tabs"):
            with TabPane("Factures", id="main"):
                with Horizontal(id="filters"):
                    yield Select(period_choices, value=period_choices[0][1] if periods else Select.NULL,
                                 prompt="Période", id="period", allow_blank=not periods)
                    yield Select([("Toutes les structures", ALL), *structures], value=ALL, allow_blank=False,
                                 id="structure")
                yield DataTable(id="invoices", cursor_type="row", zebra_stripes=True)
                yield Static(id="summary")
                yield Static(id="send-state")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#invoices", DataTable)
        for label, width in (("Résident", 26), ("N°", 16), ("Montant HT", 12), ("Édition", 16), ("Envoi mail", 16)):
            table.add_column(label, width=width)  # fixed: measuring thousands of cells is slow
        self._generation = 0
        self._shown: tuple[Period | None, int | None] | None = None  # the filters of the rows shown
        self._stamps: dict[int, Stamps] = {}
        self._following = False  # a send of one of this screen's tabs was running at the last look
        self.query_one("#send-state", Static).display = False
        self.reload()
        table.focus()
        self.set_interval(FOLLOW_SEND_EVERY, self._follow_send)

    @property
    def period(self) -> Period | None:
        value = self.query_one("#period", Select).value
        return None if value is Select.NULL else Period.parse(str(value))

    @property
    def structure_id(self) -> int | None:
        value = self.query_one("#structure", Select).value
        return None if value == ALL else int(str(value))  # allow_blank=False: a structure's id, as text

    @on(Select.Changed)
    def _filters_changed(self) -> None:
        if self._shown != (self.period, self.structure_id):  # a Select says "changed" as it mounts too
            self.reload()

    @reports_database_errors
    def reload(self) -> None:
        """The rows of the chosen period: the first ones now, the rest read in a thread."""
        table = self.query_one("#invoices", DataTable)
        table.clear()
        self._stamps = {}
        self._generation += 1
        period, structure_id = self.period, self.structure_id
        self._shown = (period, structure_id)
        if period is None:
            self.query_one("#summary", Static).update("Aucune facture dans cette base.")
            return
        query = queries.invoices_of_period(period, structure_id)
        first = read_rows(query.limit(FIRST_ROWS))
        self._add_rows(first, self._generation)
        if len(first) == FIRST_ROWS:
            self._read_rest(period, structure_id, self._generation)
        self._show_overview(queries.period_overview(period, structure_id))
        self.set_timer(PRELOAD_AFTER, self._preload_sending)  # after the first frame: it would compete

    @work(thread=True, exclusive=True, group="preload", exit_on_error=False)
    def _preload_sending(self) -> None:
        """The sending tab's modules (the send path: 80 to 170 ms of imports), loaded in a thread
        once the rows are shown, so that neither opening this screen nor ``e`` waits for them."""
        import tuiapp.screens.sending  # noqa: F401

    def _show_overview(self, overview: queries.PeriodOverview) -> None:
        """« 125 factures : 102 par e-mail (3 envoyées), 23 à imprimer »: one row at 80 columns,
        even with thousands of invoices and some credit notes."""
        self.query_one("#summary", Static).update(
            f"{overview.documents()} : {overview.to_mail} par e-mail "
            f"({overview.mailed} {plural(overview.mailed, 'envoyée', 'envoyées')}), "
            f"{overview.without_address} à imprimer"
        )

    @work(thread=True, exclusive=True, group="rows", exit_on_error=False)
    def _read_rest(self, period: Period, structure_id: int | None, generation: int) -> None:
        try:
            rows = read_rows(queries.invoices_of_period(period, structure_id).offset(FIRST_ROWS))
        except DATABASE_ERRORS as exc:
            self.app.call_from_thread(self.notify, f"Liste incomplète. {database_message(self, exc)}",
                                      severity="error", markup=False)
            return
        self.app.call_from_thread(self._add_rows, rows, generation)

    def _add_rows(self, rows: list[tuple[int, Cells, Stamps]], generation: int) -> None:
        """A chunk now, the rest a moment later: the screen stays usable on big periods."""
        tables = self.query("#invoices").results(DataTable)
        table = next(tables, None)
        if generation != self._generation or table is None:
            return  # another period was chosen meanwhile, or the screen is going (a thread's late rows)
        for invoice_id, cells, stamps in rows[:CHUNK_ROWS]:
            if invoice_id in self._stamps:
                continue  # read twice (an import between the two reads)
            self._stamps[invoice_id] = stamps
            table.add_row(*cells, key=str(invoice_id))
        if rows[CHUNK_ROWS:]:
            self.set_timer(0.01, lambda: self._add_rows(rows[CHUNK_ROWS:], generation))

    # -- a send running in one of this screen's tabs -------------------------------------

    def _sending_panels(self) -> list[SendingPanel]:
        return [panel for panel in cast("list[SendingPanel]", list(self.query("SendingPanel"))) if panel.sending]

    @staticmethod
    def sends_text(progress: list[tuple[Period, int, int]]) -> str:
        """The sends running, each ``(period, done, total)`` (a total of 0: in preparation): « Envoi en
        cours : 12 factures traitées sur 40 (septembre 2024). »; two at once, « Envois en cours :
        septembre 2024 12/40 ; octobre 2024 en préparation. » (one row at 80 columns)."""
        if len(progress) == 1:
            period, done, total = progress[0]
            label = period_label(period)
            if not total:
                return f"Envoi en cours : en préparation ({label})."
            return f"Envoi en cours : {counted(done, 'facture traitée', 'factures traitées')} sur {total} ({label})."
        parts = [f"{period_label(period)} {done}/{total}" if total else f"{period_label(period)} en préparation"
                 for period, done, total in progress]
        return f"Envois en cours : {' ; '.join(parts)}."

    def _follow_send(self) -> None:
        """Every ``FOLLOW_SEND_EVERY`` seconds: while a send runs, say so, and read the counts and
        the dates again; once more when it ends."""
        line = next(self.query("#send-state").results(Static), None)
        if line is None:
            return  # the screen is going
        running = self._sending_panels()
        if running:
            bars = [(panel.period, panel.query_one(ProgressBar)) for panel in running]
            line.update(Text(self.sends_text([(period, int(bar.progress), int(bar.total or 0)) for period, bar in bars])))
            line.display = True
        elif self._following:
            line.display = False
        if running or self._following:
            self.refresh_stamps()
        self._following = bool(running)

    def refresh_stamps(self) -> None:
        """The counts, and the dates of the rows that changed, read again (in a thread)."""
        period, structure_id = self._shown or (None, None)
        if period is not None:
            self._read_stamps(period, structure_id, self._generation, dict(self._stamps))

    @work(thread=True, exclusive=True, group="stamps", exit_on_error=False)
    def _read_stamps(self, period: Period, structure_id: int | None, generation: int,
                     shown: dict[int, Stamps]) -> None:
        try:
            overview = queries.period_overview(period, structure_id)
            changed = [invoice_id for invoice_id, printed, mailed in queries.invoice_stamps(period, structure_id)
                       if invoice_id in shown and shown[invoice_id] != (printed, mailed)]
            rows = read_rows(queries.invoices_with_people().where(Invoice.id.in_(changed))) if changed else []
        except DATABASE_ERRORS:
            return  # the next look, or the send's own report, says it
        self.app.call_from_thread(self._show_stamps, overview, rows, generation)

    def _show_stamps(self, overview: queries.PeriodOverview, rows: list[tuple[int, Cells, Stamps]],
                     generation: int) -> None:
        table = next(self.query("#invoices").results(DataTable), None)
        if generation != self._generation or table is None:
            return
        self._show_overview(overview)
        for invoice_id, cells, stamps in rows:
            self._stamps[invoice_id] = stamps
            row = table.get_row_index(str(invoice_id))
            for column, value in enumerate(cells):
                table.update_cell_at(Coordinate(row, column), value)

    def check_action(self, action: str, parameters) -> bool | None:
        tabs = self.query(TabbedContent)
        if not tabs:  # asked before the screen is built, or while it goes (the footer's look)
            return action not in ("print", "open_sending", "shift_period", "close_tab")
        on_main = tabs.first().active == "main"
        if action in ("print", "open_sending", "shift_period"):
            return on_main
        if action == "close_tab":
            return not on_main and not self._sending()
        return True

    def action_shift_period(self, step: int) -> None:
        """Periods are listed newest first: +1 goes back in time."""
        select = self.query_one("#period", Select)
        options = self.period_values
        if select.value in options:
            index = min(max(options.index(select.value) + step, 0), len(options) - 1)
            select.value = options[index]

    def action_close_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        if tabs.active != "main":
            tabs.remove_pane(tabs.active)
            tabs.active = "main"

    def _sending(self) -> bool:
        return bool(self._sending_panels())

    def leave_warning(self) -> str | None:
        """What leaving this screen would cost, as the question the app asks first (None: nothing)."""
        if self._sending():
            return "Un envoi est en cours : il s'arrêtera après le message en cours. Quitter quand même ?"
        return None

    def action_back(self) -> None:
        tabs = self.query_one(TabbedContent)
        if tabs.active != "main":
            tabs.active = "main"
            self.query_one("#invoices", DataTable).focus()  # or the hidden tab's log would take it back
        else:
            cast("TuiApp", self.app).action_leave_screen()

    @reports_database_errors
    def action_print(self) -> None:
        period = self.period
        table = self.query_one("#invoices", DataTable)
        if period is None or not table.row_count:
            return
        ids = [invoice.id for invoice in queries.invoices_of_period(period, self.structure_id)]
        self.notify(f"Impression de {counted(len(ids), 'facture', 'factures')} en cours...", title="Imprimer")
        self.print_invoices(period, ids)

    @work(thread=True, exclusive=True, group="print", exit_on_error=False)
    def print_invoices(self, period: Period, ids: list[int]) -> None:
        from tuiapp.services.printing import (
            PrinterError,
            configured_printer,
            failure_reason,
            print_folder,
            print_invoices,
        )
        from tuiapp.widgets.dialogs import PreviewScreen

        call = self.app.call_from_thread
        app = cast("TuiApp", self.app)
        try:
            shared = app.print_dir  # the association's server: the group's folder
            printer = configured_printer(app.config if app.service_mode else None)
            result = print_invoices(ids, print_folder(period, shared), shared=shared is not None, printer=printer)
        except PrinterError as exc:  # a wrong setting: nothing written yet
            call(self.notify, f"Impression impossible : {exc}", severity="error", markup=False)
        except DATABASE_ERRORS as exc:  # the stamps not written: said in French, never a crash
            call(self.notify, f"Impression impossible. {database_message(self, exc)}", severity="error", markup=False)
        except OSError as exc:  # the folder itself
            call(self.notify, f"Impression impossible : {failure_reason(exc)}", severity="error", markup=False)
        except Exception as exc:  # never a silent failure after "Impression en cours"
            call(self.notify, f"Impression impossible ({type(exc).__name__}).", severity="error", markup=False)
        else:
            severity = "warning" if result.failures or result.printer_error else "information"
            title = "Impression terminée" if result.sent_to_printer or result.printer is None else "Imprimante"
            call(self.notify, result.summary, title=title, timeout=20, severity=severity, markup=False)
            if result.failures:
                call(self.app.push_screen, PreviewScreen("Factures non imprimées", result.failures_text))
        call(self.reload)

    def action_open_sending(self) -> None:
        from tuiapp.screens.sending import SendingPanel  # here: the screen opens without the send path

        period = self.period
        if period is None:
            return
        tabs = self.query_one(TabbedContent)
        pane_id = f"send-{period.key}-{self.structure_id or 0}"
        if not tabs.query(f"#{pane_id}"):
            title = f"Envoi {period_label(period)}"
            tabs.add_pane(TabPane(title, SendingPanel(period, self.structure_id), id=pane_id))
        tabs.active = pane_id

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if event.pane.id == "main":
            self.refresh_stamps()  # what a send changed meanwhile; the rows and the cursor stay
        else:
            for panel in event.pane.query("SendingPanel"):
                cast("SendingPanel", panel).focus_table()
