"""The sending tab: tick invoices, preview, send through the engine, follow the live log."""

from __future__ import annotations

import gc
from datetime import datetime
from decimal import Decimal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, ProgressBar, RichLog, Static

from tuiapp.sending import events as ev
from tuiapp.sending import outbox
from tuiapp.sending import wording
from tuiapp.sending.engine import StopRequest
from tuiapp.domain.formatting import format_amount
from tuiapp.domain.periods import Period
from tuiapp.db import queries
from tuiapp.db.models import SendStatus
from tuiapp.widgets import send_cells as cells
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_problem, reports_database_errors
from tuiapp.widgets.dialogs import ChoiceScreen, PreviewScreen
from tuiapp.widgets.form import ConfirmScreen, cursor_key
from tuiapp.widgets.plain import plain

FIRST_ROWS = 60  # drawn at once when the tab opens
MORE_ROWS = 250  # then this many at a time, letting the screen breathe in between

class SendingPanel(Vertical):
    """Lists the period's invoices that can be mailed; sends the ticked ones."""

    BINDINGS = [
        Binding("e", "send", "Envoyer", id="sending.send"),
        Binding("space", "toggle", "Cocher", id="sending.toggle"),
        Binding("a", "select('all')", "Toutes", id="sending.all"),
        Binding("n", "select('none')", "Aucune", id="sending.none"),
        Binding("u", "select('unsent')", "Non env.", id="sending.unsent"),
        Binding("i", "select('invert')", "Inverser", id="sending.invert"),
        Binding("v", "preview", "Aperçu", id="sending.preview"),
        Binding("c", "cancel", "Arrêter l'envoi", id="sending.cancel"),
        Binding("r", "resend_failed", "Renvoyer les échecs", id="sending.resend", show=False),
        Binding("k", "decide", "Décider (état inconnu)", id="sending.unknown", show=False),
        Binding("l", "left_out", "Liste à imprimer", id="sending.left_out", show=False),
    ]
    #: Shown only while a batch runs, and hidden then.
    _WHILE_SENDING = {"cancel"}
    _WHEN_IDLE = {"toggle", "select", "send", "resend_failed", "decide"}

    def __init__(self, period: Period, structure_id: int | None) -> None:
        super().__init__()
        self.period = period
        self.structure_id = structure_id
        self.rows: dict[int, queries.SendRow] = {}
        self.selected: set[int] = set()
        self.states: dict[int, str] = {}
        self.batch: str | None = None
        self.cancel_event = StopRequest()  # set(): interrupted (rest queued); cancel(): withdrawn
        self.sending = False
        self.log_texts: list[str] = []
        self._pending_rows: list[queries.SendRow] = []
        self._frozen = False
        self.rate_per_minute = 0
        self._started_at = 0.0
        self._done = 0
        self._total = 0

    def compose(self) -> ComposeResult:
        yield DataTable(id="send-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="send-summary")
        yield Static(id="left-out")
        with Horizontal(id="progress-row"):
            yield Static(id="progress-label")
            yield ProgressBar(id="progress", show_eta=False, show_percentage=True)
        yield RichLog(id="log", wrap=True, markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # Fixed widths: measuring every cell of thousands of rows would make the tab slow to open.
        for key, label, width in (("check", "✓", 1), ("name", "Résident", 22), ("number", "N°", 16),
                                  ("amount", "Montant HT", 12), ("state", "État", 11),
                                  ("last", "Dernier envoi / édition", 22), ("email", "Courriel", 30),
                                  ("guardian", "Courriel tuteur", 30)):
            table.add_column(label, key=key, width=width)
        self.load()
        self.focus_table()
        self.set_interval(5, self.refresh_states)

    def check_action(self, action: str, parameters) -> bool | None:
        if action in self._WHILE_SENDING:
            return self.sending
        if action in self._WHEN_IDLE:
            return not self.sending
        return True

    def focus_table(self) -> None:
        for table in self.query(DataTable):  # not there yet while the tab is being built
            table.focus()

    # -- data -------------------------------------------------------------------

    def _state(self, row: queries.SendRow) -> str:
        if row.send_status == SendStatus.SENDING and row.send_batch != self.batch:
            return "other"
        return row.send_status or ""

    @reports_database_errors
    def load(self) -> None:
        rows = queries.send_rows(self.period, self.structure_id)
        self.rows = {row.invoice_id: row for row in rows}
        self.states = {row.invoice_id: self._state(row) for row in rows}
        self.selected = {row.invoice_id for row in rows if row.last_mailed_at is None and self._sendable(row.invoice_id)}
        table = self.query_one(DataTable)
        table.clear()
        self._pending_rows = rows
        self._add_rows(FIRST_ROWS)  # a screenful at once, the rest without freezing the screen
        overview = queries.period_overview(self.period, self.structure_id)
        self.query_one("#left-out", Static).update(
            f"{overview.without_address} sans adresse e-mail : à imprimer (l : la liste)"
        )
        self.update_summary()

    def _add_rows(self, count: int) -> None:
        chunk, self._pending_rows = self._pending_rows[:count], self._pending_rows[count:]
        table = self.query_one(DataTable)
        for row in chunk:
            table.add_row(*self._cells(row), key=str(row.invoice_id))
        if self._pending_rows:
            self.set_timer(0.01, lambda: self._add_rows(MORE_ROWS))
        elif not self._frozen:
            # The table's thousands of cells live as long as the tab: take them out of
            # the garbage collector's full passes, which otherwise froze the screen for
            # 0.2 s at a time during a batch (measured in benchmarks/tui_bench.py).
            gc.freeze()
            self._frozen = True

    @property
    def loaded(self) -> bool:
        """Every row is in the table."""
        return not self._pending_rows

    def _sendable(self, invoice_id: int) -> bool:
        # "queued": left waiting by a batch that stopped; sending it again claims that record.
        return self.states.get(invoice_id) not in ("other", "unknown", "sending")

    def _cells(self, row: queries.SendRow) -> list:
        return cells.row_cells(row, row.invoice_id in self.selected, self.states.get(row.invoice_id, ""))

    _COLUMNS = ("check", "name", "number", "amount", "state", "last")

    def _update_row(self, invoice_id: int, columns=("check", "state", "last")) -> None:
        """Redraw the cells that can change (each update costs a refresh)."""
        table = self.query_one(DataTable)
        if str(invoice_id) not in table.rows:
            return  # not added yet: it will be drawn from the current state
        cells = dict(zip(self._COLUMNS, self._cells(self.rows[invoice_id])))
        for column in columns:
            table.update_cell(str(invoice_id), column, cells[column])

    def update_summary(self) -> None:
        total = sum((self.rows[i].amount_ht for i in self.selected), Decimal("0.00"))
        self.query_one("#send-summary", Static).update(
            f"{len(self.selected)} facture(s) cochée(s) sur {len(self.rows)}, total HT {format_amount(total)}"
        )

    @work(thread=True, exclusive=True, group="refresh-states", exit_on_error=False)
    def refresh_states(self) -> None:
        """Re-read the states (another operator may be sending this period) and last-mailed times."""
        if self.sending:
            return
        outbox.recover_interrupted()  # a workstation that died: its sends become "unknown"
        rows = queries.send_rows(self.period, self.structure_id)
        self.app.call_from_thread(self._apply_states, rows)

    def _apply_states(self, rows: list[queries.SendRow]) -> None:
        if self.sending:
            return
        for row in rows:
            if row.invoice_id not in self.rows:
                continue
            state = self._state(row)
            before = self.rows[row.invoice_id]
            if state != self.states.get(row.invoice_id) or row.last_mailed_at != before.last_mailed_at:
                self.rows[row.invoice_id], self.states[row.invoice_id] = row, state
                mailed_meanwhile = before.last_mailed_at is None and row.last_mailed_at is not None
                if mailed_meanwhile or not self._sendable(row.invoice_id):
                    self.selected.discard(row.invoice_id)  # sent from elsewhere: never again by default
                self._update_row(row.invoice_id)
        self.update_summary()

    # -- selection ----------------------------------------------------------------

    def _current(self) -> int | None:
        return cursor_key(self.query_one(DataTable))

    def action_toggle(self) -> None:
        invoice_id = self._current()
        if invoice_id is None or self.sending:
            return
        if invoice_id in self.selected:
            self.selected.discard(invoice_id)
        elif self._sendable(invoice_id):
            self.selected.add(invoice_id)
        else:
            self.notify("Cette facture est en cours d'envoi ailleurs ou à l'état inconnu (k).", severity="warning")
        self._update_row(invoice_id)
        self.update_summary()
        self.query_one(DataTable).action_cursor_down()

    def action_select(self, which: str) -> None:
        if self.sending:
            return
        sendable = {i for i in self.rows if self._sendable(i)}
        self.selected = {
            "all": sendable,
            "none": set(),
            "unsent": {i for i in sendable if self.rows[i].last_mailed_at is None},
            "invert": sendable - self.selected,
        }[which]
        self._redraw_checks()
        self.update_summary()

    def _redraw_checks(self) -> None:
        table = self.query_one(DataTable)
        for invoice_id in self.rows:
            if str(invoice_id) in table.rows:
                table.update_cell(str(invoice_id), "check", cells.check(invoice_id in self.selected))

    # -- dialogs ------------------------------------------------------------------

    @reports_database_errors
    def action_preview(self) -> None:
        from tuiapp.sending.preview import preview_text

        invoice_id = self._current()
        if invoice_id is not None:
            self.app.push_screen(PreviewScreen(f"Aperçu : facture {self.rows[invoice_id].number}",
                                               preview_text(invoice_id)))

    @reports_database_errors
    def action_left_out(self) -> None:
        from tuiapp.sending.preview import left_out_text

        self.app.push_screen(PreviewScreen("Factures à imprimer", left_out_text(self.period, self.structure_id)))

    def action_decide(self) -> None:
        invoice_id = self._current()
        row = self.rows.get(invoice_id) if invoice_id is not None else None
        if row is None or self.states.get(invoice_id) != "unknown":
            self.notify("Choisissez une ligne à l'état inconnu.", severity="warning")
            return
        question = (f"L'envoi de la facture {row.number} ({row.resident}) a été interrompu : le message est "
                    "peut-être parti. Vérifiez les éléments envoyés de la boîte mail, puis :")
        choices = {"d": ("delivered", "il est bien parti : le marquer envoyé"),
                   "r": ("resend", "il n'est pas parti : le renvoyer maintenant")}

        def decided(choice: str | None) -> None:
            if choice:
                try:
                    new_id = outbox.resolve_uncertain(row.send_record_id, delivered=choice == "delivered",
                                                      operator=outbox.operator_name())
                except DATABASE_ERRORS as exc:  # nothing decided: the record stays "unknown"
                    database_problem(self, exc, prefix="Rien n'a été décidé. ")
                    return
                if new_id:
                    self.start_batch([], record_ids=[new_id])
                else:
                    self.load()

        self.app.push_screen(ChoiceScreen(question, choices), decided)

    # -- sending --------------------------------------------------------------------

    def action_send(self) -> None:
        if self.sending:
            return
        ids = [i for i in self.rows if i in self.selected]
        if not ids:
            self.notify("Aucune facture cochée (espace pour cocher).", severity="warning")
            return
        recipients = sum(len(self.rows[i].recipients) for i in ids)
        again = sum(1 for i in ids if self.rows[i].last_mailed_at is not None)
        question = f"Envoyer {len(ids)} facture(s) à {recipients} adresse(s) ?"
        if again:
            question += f"\n{again} d'entre elles ont déjà été envoyées auparavant et partiront une nouvelle fois."

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.start_batch(ids)

        self.app.push_screen(ConfirmScreen(question), confirmed)

    def action_resend_failed(self) -> None:
        # Not "partial": its accepted address already has it (send those by hand if needed).
        failed = {i for i, state in self.states.items() if state == "failed"}
        if not failed:
            self.notify("Aucun échec à renvoyer (un envoi partiel n'est pas renvoyé : une adresse l'a reçu).")
            return
        self.selected = failed
        self._redraw_checks()
        self.update_summary()
        self.action_send()

    def action_cancel(self) -> None:
        if self.sending:
            self.cancel_event.cancel()  # the operator's decision: what is not sent yet is withdrawn
            self.log_line("Arrêt demandé : l'envoi s'arrête après le message en cours.")

    def start_batch(self, invoice_ids: list[int], *, record_ids: list[int] | None = None) -> None:
        self.sending = True
        self.refresh_bindings()
        self.add_class("-has-run")
        self.cancel_event.clear()
        self._done, self._total = 0, len(invoice_ids) or len(record_ids or [])
        self._started_at = datetime.now().timestamp()
        self.query_one(ProgressBar).update(total=self._total, progress=0)
        self.run_batch(invoice_ids, record_ids or [])

    @work(thread=True, exclusive=True, group="send", exit_on_error=False)
    def run_batch(self, invoice_ids: list[int], record_ids: list[int]) -> None:
        from tuiapp.sending import workflow as send_workflow
        from tuiapp.domain.errors import TuiappError
        from tuiapp.mail.smtp_client import SmtpSettings, keyring_authenticator
        from tuiapp.db.models import Association

        call = self.app.call_from_thread
        try:
            operator = outbox.operator_name()
            resend = [i for i in invoice_ids if self.rows[i].last_mailed_at is not None]
            prepared = send_workflow.prepare(invoice_ids, operator=operator, resend=resend, records=record_ids)
            self.batch = prepared.batch
            if prepared.skipped:
                call(self.log_line, f"{prepared.skipped} facture(s) déjà envoyée(s) ou en cours ailleurs : ignorée(s).")
            settings = SmtpSettings.from_association(Association.get_solo())
            self.rate_per_minute = settings.rate_per_minute
            result = send_workflow.run(prepared, settings=settings, authenticator=keyring_authenticator(settings),
                                       operator=operator, stop=self.cancel_event,
                                       on_event=lambda event: call(self.on_engine_event, event))
            if result.withdrawn:
                call(self.log_line, f"{result.withdrawn} facture(s) non envoyée(s) retirée(s) de la file d'attente.")
        except TuiappError as exc:
            call(self.log_line, f"Envoi impossible : {exc}")
        except Exception as exc:  # shown, never swallowed: the records stay queued or unknown
            call(self.log_line, f"Erreur inattendue pendant l'envoi ({type(exc).__name__} : {exc}).")
        finally:
            call(self.batch_done)

    def log_line(self, text: str) -> None:
        line = plain(f"{datetime.now():%H:%M:%S}  {text}", multiline=True)
        self.log_texts.append(line.plain)
        self.query_one(RichLog).write(line)

    def on_engine_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.BatchStarted):
            self._total = event.total
            self.query_one(ProgressBar).update(total=max(event.total, 1), progress=0)
        if not isinstance(event, ev.InvoiceClaimed | ev.BatchStarted):
            self.log_line(wording.describe(event))
        outcome = {ev.InvoiceSent: "sent", ev.InvoicePartial: "partial", ev.InvoiceFailed: "failed",
                   ev.InvoiceUncertain: "unknown", ev.InvoiceSkipped: "other", ev.InvoiceDeferred: "queued",
                   ev.InvoiceClaimed: "sending"}.get(type(event))
        if outcome and event.invoice.invoice_id in self.rows:
            invoice_id = event.invoice.invoice_id
            self.states[invoice_id] = outcome
            if outcome != "sending":
                self.selected.discard(invoice_id)
                self._done += 1
                self._progress()
            self._update_row(invoice_id, ("check", "state"))
            self.update_summary()

    def _progress(self) -> None:
        self.query_one(ProgressBar).update(progress=self._done)
        elapsed = datetime.now().timestamp() - self._started_at
        left = max(self._total - self._done, 0)
        seconds = elapsed / self._done * left if self._done else 0
        if self.rate_per_minute:  # the server's limit sets the pace of a long batch
            seconds = max(seconds, left * 60 / self.rate_per_minute)
        eta = f", environ {cells.duration(seconds)} restantes" if self._done and left else ""
        self.query_one("#progress-label", Static).update(f"{self._done}/{self._total} traitée(s){eta}")

    def batch_done(self) -> None:
        self.sending = False
        self.refresh_bindings()
        self.refresh_states()  # last-mailed times and states, read in a worker, cells updated in place
