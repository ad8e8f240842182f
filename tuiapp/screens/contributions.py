"""Édition des contributions (Traitements): a period's invoices, printing, and the sending tabs."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Select, Static, TabbedContent, TabPane

from tuiapp.db import queries
from tuiapp.db.models import Structure
from tuiapp.domain.formatting import format_amount, format_timestamp, period_label
from tuiapp.domain.periods import Period
from tuiapp.screens.sending import SendingPanel
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_message, reports_database_errors
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.plain import cell, options

if TYPE_CHECKING:
    from tuiapp.app import TuiApp

ALL = "all"


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
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#invoices", DataTable)
        for label, width in (("Résident", 26), ("N°", 16), ("Montant HT", 12), ("Édition", 16), ("Envoi mail", 16)):
            table.add_column(label, width=width)  # fixed: measuring thousands of cells is slow
        self.reload()
        table.focus()

    @property
    def period(self) -> Period | None:
        value = self.query_one("#period", Select).value
        return None if value is Select.NULL else Period.parse(str(value))

    @property
    def structure_id(self) -> int | None:
        value = self.query_one("#structure", Select).value
        return None if value == ALL else int(str(value))  # allow_blank=False: a structure's id, as text

    @on(Select.Changed)
    @reports_database_errors
    def reload(self) -> None:
        table = self.query_one("#invoices", DataTable)
        table.clear()
        period = self.period
        if period is None:
            self.query_one("#summary", Static).update("Aucune facture dans cette base.")
            return
        rows = list(queries.invoices_of_period(period, self.structure_id))
        self._generation = getattr(self, "_generation", 0) + 1
        self._add_rows(rows, self._generation, 60)
        overview = queries.period_overview(period, self.structure_id)
        self.query_one("#summary", Static).update(
            f"{overview.documents()} : {overview.to_mail} avec adresse e-mail "
            f"({overview.mailed} déjà envoyée(s)), {overview.without_address} à imprimer"
        )

    def _add_rows(self, rows: list, generation: int, count: int) -> None:
        """A screenful at once, the rest in chunks: the screen stays usable on big periods."""
        if generation != self._generation:
            return  # another period was chosen meanwhile
        table = self.query_one("#invoices", DataTable)
        for invoice in rows[:count]:  # cells made chunk by chunk: formatting costs too
            table.add_row(
                cell(invoice.resident.display_name), cell(invoice.number), format_amount(invoice.amount_ht),
                format_timestamp(invoice.last_printed_at), format_timestamp(invoice.last_mailed_at),
                key=str(invoice.id),
            )
        if rows[count:]:
            self.set_timer(0.01, lambda: self._add_rows(rows[count:], generation, 250))

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
        return any(panel.sending for panel in self.query(SendingPanel))

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
        self.notify(f"Impression de {len(ids)} facture(s) en cours...", title="Imprimer")
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
            self.reload()
        else:
            for panel in event.pane.query(SendingPanel):
                panel.focus_table()
