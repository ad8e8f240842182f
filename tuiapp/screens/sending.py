"""The sending tab: tick invoices, preview, send them through the send workflow, follow the live log.

The send itself (``tuiapp.sending.workflow``) runs in a thread worker that only posts
messages; every widget and attribute here is changed on the UI thread, by their handlers.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import ProgressBar, RichLog, Static

from tuiapp.db import queries
from tuiapp.db.models import Association, SendRecord, SendStatus
from tuiapp.domain.formatting import format_amount
from tuiapp.domain.periods import Period
from tuiapp.domain.roles import Role, decide_refusal
from tuiapp.sending import events as ev
from tuiapp.sending import outbox, workflow
from tuiapp.sending.engine import StopRequest
from tuiapp.widgets import send_cells as cells
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_message, database_problem, reports_database_errors
from tuiapp.widgets.dialogs import ChoiceScreen, PreviewScreen
from tuiapp.widgets.form import ConfirmScreen
from tuiapp.widgets.plain import plain
from tuiapp.widgets.rights import refuse
from tuiapp.widgets.send_browser import SendBrowser
from tuiapp.widgets.send_detail import queue_places
from tuiapp.widgets.send_table import SendTable


class SendingPanel(Vertical):
    """Lists the period's invoices that can be mailed; sends the ticked ones."""

    BINDINGS = [
        Binding("e", "send", "Envoyer", id="sending.send"),
        Binding("space", "tick", "Cocher", id="sending.toggle"),
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
    _WHEN_IDLE = {"tick", "select", "send", "resend_failed", "decide"}

    class Progress(Message, bubble=False):
        """An event of the running send (posted by its thread)."""

        def __init__(self, event: workflow.Event) -> None:
            super().__init__()
            self.event = event

    class Ended(Message, bubble=False):
        """The send is over: ``outcome``, or why it could not run (``error``)."""

        def __init__(self, outcome: workflow.Outcome | None, error: str = "") -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    class StatesRead(Message, bubble=False):
        def __init__(self, rows: list[queries.SendRow], service: str | None = None) -> None:
            super().__init__()
            self.rows = rows
            self.service = service  # service mode: the sender service's state, in French

    class Watched(Message, bubble=False):
        """Service mode: where the queued invoices stand, as the sender service reports them."""

        def __init__(self, view: workflow.ServiceView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, period: Period, structure_id: int | None) -> None:
        super().__init__()
        self.period = period
        self.structure_id = structure_id
        self.sending = False
        self.log_texts: list[str] = []
        self._stop = StopRequest()
        self._rate_per_minute = 0
        self._started_at = 0.0
        self._done = 0
        self._total = 0

    def compose(self) -> ComposeResult:
        yield SendBrowser()  # the table, its search line, the detail of the row under the cursor
        yield Static(id="send-summary")
        yield Static(id="left-out")
        if self.service_mode:
            yield Static(id="service")
        with Horizontal(id="progress-row"):
            yield Static(id="progress-label")
            yield ProgressBar(id="progress", show_eta=False, show_percentage=True)
        yield RichLog(id="log", wrap=True, markup=False)

    @property
    def table(self) -> SendTable:
        return self.query_one(SendTable)

    @property
    def states(self) -> dict[int, str]:
        return self.table.states

    @property
    def loaded(self) -> bool:
        """Every row is in the table."""
        return self.table.loaded

    @property
    def service_mode(self) -> bool:
        """On the association's server a sender service sends: this tab queues and follows it."""
        return bool(getattr(self.app, "service_mode", False))

    def on_mount(self) -> None:
        self.load()
        self.focus_table()
        self._read_states(recover=True)  # a workstation that died: its sends become "unknown"
        # Service mode: the service's states and heartbeat within 2 s (issue 11).
        self.set_interval(1 if self.service_mode else 5, self.refresh_states)

    def on_unmount(self) -> None:
        # Left (the app closed, or the screen): an interruption, the rest stays queued.
        self._stop.set()

    def check_action(self, action: str, parameters) -> bool | None:
        if action in self._WHILE_SENDING:
            return self.sending
        if action in self._WHEN_IDLE:
            return not self.sending
        return True

    def focus_table(self) -> None:
        for table in self.query(SendTable):  # not there yet while the tab is being built
            table.focus()

    # -- data -------------------------------------------------------------------

    @reports_database_errors
    def load(self) -> None:
        self.table.fill(queries.send_rows(self.period, self.structure_id))
        overview = queries.period_overview(self.period, self.structure_id)
        self.query_one("#left-out", Static).update(
            f"{overview.without_address} sans adresse e-mail : à imprimer (l : la liste)"
        )
        self.update_summary()

    def update_summary(self) -> None:
        imported = sum(1 for row in self.table.ticked_rows() if row.pdf_imported)
        self.query_one("#send-summary", Static).update(
            f"{len(self.table.ticked)} facture(s) cochée(s) sur {len(self.table.invoices)}, "
            f"total HT {format_amount(self.table.ticked_total())}"
            + (f" ; {imported} avec leur PDF importé" if imported else "")
        )

    def refresh_states(self) -> None:
        """The periodic refresh: reads the states again, unless a batch runs."""
        if not self.sending:
            self._read_states()

    @work(thread=True, exclusive=True, group="refresh-states", exit_on_error=False)
    def _read_states(self, recover: bool = False) -> None:
        """Read the states again (another operator may be sending this period): only reads,
        unless ``recover`` (the tab opening: settle what a dead process left in flight)."""
        if recover and not workflow.recover() and not self.service_mode:
            return  # nothing to settle: the rows the tab has just read stand (a second read of
            # thousands of rows, while the first are drawn, slowed the opening; the refresh follows)
        service = workflow.watch([]).service if self.service_mode else None
        self.post_message(self.StatesRead(queries.send_rows(self.period, self.structure_id), service))

    def _service_line(self, text: str) -> None:
        """The service's state, and the pace root set (messages per minute, for everybody)."""
        config = getattr(self.app, "config", None)
        rate = config.smtp.rate_per_minute if config is not None and config.smtp is not None else 0
        running = text.startswith("Service d'envoi en marche")
        pace = f" Rythme : {rate} messages/min." if rate and running else ""  # within 78 columns
        self.query_one("#service", Static).update(plain(text + pace))

    def on_sending_panel_states_read(self, message: StatesRead) -> None:
        if message.service is not None:
            self._service_line(message.service)
        if not self.sending:
            self.table.merge(message.rows)
            self.update_summary()

    # -- selection ----------------------------------------------------------------

    def action_tick(self) -> None:
        if not self.sending:
            if not self.table.tick_current():
                self.notify("Cette facture est en cours d'envoi ailleurs ou à l'état inconnu (k).", severity="warning")
            self.update_summary()

    def action_select(self, which: str) -> None:
        if not self.sending:
            self.table.choose(which)
            self.update_summary()

    # -- dialogs ------------------------------------------------------------------

    @reports_database_errors
    def action_preview(self) -> None:
        from tuiapp.sending.preview import preview_text

        row = self.table.current_invoice()
        if row is not None:
            self.app.push_screen(PreviewScreen(f"Aperçu : facture {row.number}", preview_text(row.invoice_id)))

    @reports_database_errors
    def action_left_out(self) -> None:
        from tuiapp.sending.preview import left_out_text

        self.app.push_screen(PreviewScreen("Factures à imprimer", left_out_text(self.period, self.structure_id)))

    def _decide_refusal(self, record_id: int) -> str | None:
        """An operator decides on their own sends only; an administrator on anyone's."""
        role = getattr(self.app, "role", Role.ADMIN)
        if role is Role.ADMIN:
            return None
        try:
            owner = SendRecord.get_by_id(record_id).operator
        except DATABASE_ERRORS as exc:  # not known whose it is: not decided
            return "Rien n'a été décidé. " + database_message(self, exc)
        return decide_refusal(role, owner, outbox.operator_name())

    def action_decide(self) -> None:
        row = self.table.current_invoice()
        if row is None or row.send_record_id is None or self.states.get(row.invoice_id) != "unknown":
            self.notify("Choisissez une ligne à l'état inconnu.", severity="warning")
            return
        record_id = row.send_record_id
        if reason := self._decide_refusal(record_id):
            refuse(self, reason)
            return
        question = (f"L'envoi de la facture {row.number} ({row.resident}) a été interrompu : le message est "
                    "peut-être parti. Vérifiez les éléments envoyés de la boîte mail, puis :")
        choices = {"d": ("delivered", "il est bien parti : le marquer envoyé"),
                   "r": ("resend", "il n'est pas parti : le renvoyer maintenant")}

        def decided(choice: str | None) -> None:
            if choice:
                try:
                    new_id = workflow.resolve(record_id, delivered=choice == "delivered")
                except DATABASE_ERRORS as exc:  # nothing decided: the record stays "unknown"
                    database_problem(self, exc, prefix="Rien n'a été décidé. ")
                    return
                if new_id:  # queued again: this send takes it up
                    self._start(workflow.plan_rows([replace(row, send_status=SendStatus.QUEUED,
                                                            send_record_id=new_id)]))
                else:
                    self.load()

        self.app.push_screen(ChoiceScreen(question, choices), decided)

    # -- sending --------------------------------------------------------------------

    def action_send(self) -> None:
        if self.sending:
            return
        ticked = self.table.ticked_rows()
        if not ticked:
            self.notify("Aucune facture cochée (espace pour cocher).", severity="warning")
            return
        plan = workflow.plan_rows(ticked, include_sent=True)  # ticked: sent again on purpose

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._start(plan)

        self.app.push_screen(ConfirmScreen(plan.question()), confirmed)

    def action_resend_failed(self) -> None:
        # Not "partial": its accepted address already has it (send those by hand if needed).
        failed = {i for i, state in self.states.items() if state == "failed"}
        if not failed:
            self.notify("Aucun échec à renvoyer (un envoi partiel n'est pas renvoyé : une adresse l'a reçu).")
            return
        self.table.tick_only(failed)
        self.update_summary()
        self.action_send()

    def action_cancel(self) -> None:
        if self.sending:
            self._stop.cancel()  # the operator's decision: what is not sent yet is withdrawn
            self.log_line("Arrêt demandé : l'envoi s'arrête après le message en cours.")

    def _start(self, plan: workflow.Plan) -> None:
        self.sending = True
        self.refresh_bindings()
        self.add_class("-has-run")
        self._stop = StopRequest()
        self._done, self._total = 0, len(plan.items)
        self._started_at = time.monotonic()
        try:  # the server's limit sets the pace of a long batch: the time left takes it in
            self._rate_per_minute = Association.get_solo().smtp_rate_per_minute
        except DATABASE_ERRORS:
            self._rate_per_minute = 0
        self.query_one(ProgressBar).update(total=max(self._total, 1), progress=0)
        self._send(plan, self._stop)

    @work(thread=True, exclusive=True, group="send", exit_on_error=False)
    def _send(self, plan: workflow.Plan, stop: StopRequest) -> None:
        """The workflow in this thread; it only posts messages (``post_message`` is thread-safe)."""
        from tuiapp.domain.errors import TuiappError

        outcome, error = None, ""
        try:
            if self.service_mode:
                self._queue_and_watch(plan, stop)
            else:
                outcome = workflow.send(plan, stop=stop, on_event=self._post_progress)
        except TuiappError as exc:
            error = f"Envoi impossible : {exc}"
        except DATABASE_ERRORS as exc:  # its meaning, in French (the driver's text may quote a server)
            error = f"Envoi arrêté : {database_message(self, exc)} L'état de chaque facture est dans la liste."
        except Exception as exc:  # shown, never swallowed: the records stay queued or unknown
            error = f"Erreur inattendue pendant l'envoi ({type(exc).__name__} : {exc})."
        self.post_message(self.Ended(outcome, error))

    def _queue_and_watch(self, plan: workflow.Plan, stop: StopRequest) -> None:
        """Service mode, in the worker: queue, then read where the invoices stand until the service
        has dealt with them all. Cancelling withdraws this operator's invoices not sent yet; leaving
        the tab only stops watching (the service sends them)."""
        from tuiapp.sending import outbox

        queued = workflow.queue(plan, operator=outbox.operator_name())
        self._post_progress(queued)
        while True:
            view = workflow.watch(queued.record_ids)
            self.post_message(self.Watched(view))
            if view.finished:
                return
            if stop.is_set():
                if stop.withdraw:
                    self._post_progress(workflow.Withdrawn(outbox.withdraw_unsent(queued.batch, queued.record_ids)))
                return
            stop.wait(0.5)

    def on_sending_panel_watched(self, message: Watched) -> None:
        view = message.view
        self._service_line(view.service)
        done = 0
        for state in view.states:
            finished = state.status in SendStatus.finished()
            done += finished
            if self.states.get(state.invoice_id) != state.status:
                self.table.set_state(state.invoice_id, state.status)
                if finished:
                    suffix = f" ({state.error})" if state.error and state.status != SendStatus.SENT else "."
                    self.log_line(f"Facture {state.number} ({state.resident}) : {state.status.label}{suffix}")
        self.table.set_queue_places(queue_places(view.ahead, [(state.record_id, state.invoice_id)
                                                              for state in view.states if state.status == SendStatus.QUEUED]))
        self._done, self._total = done, len(view.states)
        self.query_one(ProgressBar).update(total=max(self._total, 1), progress=done)
        waiting = f" ; {view.ahead} facture(s) avant les vôtres dans la file" if view.ahead else ""
        self.query_one("#progress-label", Static).update(f"{done}/{self._total} traitée(s){waiting}")
        self.update_summary()

    def _post_progress(self, event: workflow.Event) -> None:
        self.post_message(self.Progress(event))

    def log_line(self, text: str) -> None:
        line = plain(f"{datetime.now():%H:%M:%S}  {text}", multiline=True)
        self.log_texts.append(line.plain)
        self.query_one(RichLog).write(line)

    def on_sending_panel_progress(self, message: Progress) -> None:
        event = message.event
        if isinstance(event, workflow.Queued):
            self.table.own_batch = event.batch
            if self.service_mode:
                self.log_line(f"{len(event.record_ids)} facture(s) en file d'attente : le service d'envoi les enverra.")
        elif isinstance(event, ev.BatchStarted):
            self._total = event.total
            self.query_one(ProgressBar).update(total=max(event.total, 1), progress=0)
        for text in workflow.describe(event):
            self.log_line(text)
        if isinstance(event, cells.InvoiceStep):
            state = cells.STATE_AFTER[type(event)]
            self.table.set_state(event.invoice.invoice_id, state)
            if state != "sending":
                self._done += 1
                self.query_one(ProgressBar).update(progress=self._done)
                self.query_one("#progress-label", Static).update(cells.progress_text(
                    self._done, self._total, time.monotonic() - self._started_at, self._rate_per_minute))
            self.update_summary()

    def on_sending_panel_ended(self, message: Ended) -> None:
        if message.error:
            self.log_line(message.error)
        self.sending = False
        self.refresh_bindings()
        self._read_states()  # last-mailed times and states, read in a worker, cells updated in place
