"""The sending tab: tick invoices, preview, send them through the send workflow, follow the live log.

The send itself (``tuiapp.sending.workflow``) runs in a thread worker that only posts
messages; every widget and attribute here is changed on the UI thread, by their handlers.
"""

from __future__ import annotations

import time
from decimal import Decimal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import ProgressBar, Static

from tuiapp.db import queries
from tuiapp.db.models import Association
from tuiapp.domain import timing
from tuiapp.domain.formatting import counted, format_amount, plural
from tuiapp.domain.periods import Period
from tuiapp.sending import service_watch, workflow
from tuiapp.sending.engine import StopRequest
from tuiapp.widgets import send_cells as cells
from tuiapp.widgets import send_run, send_watch
from tuiapp.widgets.db_errors import DATABASE_ERRORS, reports_database_errors
from tuiapp.widgets.dialogs import PreviewScreen
from tuiapp.widgets.form import ConfirmScreen
from tuiapp.widgets.send_browser import SendBrowser
from tuiapp.widgets.send_decide import ask_decision
from tuiapp.widgets.send_log import SendLog
from tuiapp.widgets.send_progress import WIDTH as PROGRESS_WIDTH
from tuiapp.widgets.send_progress import RunProgress
from tuiapp.widgets.send_stop import StopQuestion
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
        # Ctrl+C asks first (a reflex, unlike c); in a text field it keeps Textual's meaning: copy.
        Binding("ctrl+c", "ask_stop", "Arrêter l'envoi (demande)", id="sending.ask_stop", show=False),
        Binding("r", "resend_failed", "Renvoyer les échecs", id="sending.resend", show=False),
        Binding("k", "decide", "Décider (état inconnu)", id="sending.unknown", show=False),
        Binding("l", "left_out", "Liste à imprimer", id="sending.left_out", show=False),
    ]
    #: Shown only while a batch runs, and hidden then.
    _WHILE_SENDING = {"cancel", "ask_stop"}
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
        def __init__(self, rows: list[queries.SendRow], service: str | None = None, read: int = 0) -> None:
            super().__init__()
            self.rows = rows
            self.service = service  # service mode: the sender service's state, in French
            self.read = read  # which read (``SendingPanel._reads``): an older one's rows are dropped

    class Watched(Message, bubble=False):
        """Service mode: where the queued invoices stand, as the sender service reports them."""

        def __init__(self, view: service_watch.ServiceView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, period: Period, structure_id: int | None) -> None:
        super().__init__()
        self.period = period
        self.structure_id = structure_id
        self.sending = False
        self._stop = StopRequest()
        self.run_progress = RunProgress()
        self._full_collections = send_run.FullCollectionsDeferred()
        self.send_log = SendLog()  # the send's log lines, and (below) its states, drawn at the next tick
        self._pending_states: dict[int, str] = {}
        self._reads = 0  # the reads of the states started: only the last one's rows are shown
        self._stop_question = StopQuestion(self)  # « Arrêter l'envoi ? »

    def compose(self) -> ComposeResult:
        yield SendBrowser()  # the table, its search line, the detail of the row under the cursor
        yield Static(id="send-summary")
        yield Static(id="left-out")
        if self.service_mode:
            yield Static(id="service")
        with Horizontal(id="progress-row"):
            yield Static(id="progress-label")
            yield ProgressBar(id="progress", show_eta=False, show_percentage=True)
        yield self.send_log

    @property
    def table(self) -> SendTable:
        return self.query_one(SendTable)

    @property
    def states(self) -> dict[int, str]:
        return self.table.states

    @property
    def log_texts(self) -> list[str]:
        """The log's lines, as plain text with their times."""
        return self.send_log.texts

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
        # While a send runs, what it changed is drawn four times a second, and its waits count down.
        self._ticker = self.set_interval(0.25, self._draw_run, pause=True)

    def on_unmount(self) -> None:
        # Left (the app closed, or the screen): an interruption, the rest stays queued.
        self._stop.set()
        self._full_collections.end()

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
        """« 12 factures cochées sur 40 (1 234,50 € HT), dont 3 PDF importés »: one row, 78 columns
        at 80, even with thousands of invoices and millions of euros."""
        imported = sum(1 for row in self.table.ticked_rows() if row.pdf_imported)
        self.show_line("#send-summary", self.summary_text(
            len(self.table.ticked), len(self.table.invoices), self.table.ticked_total(), imported))

    @staticmethod
    def summary_text(ticked: int, invoices: int, total_ht: Decimal, imported: int) -> str:
        return (f"{counted(ticked, 'facture cochée', 'factures cochées')} sur {invoices} "
                f"({format_amount(total_ht)} HT)"
                + (f", dont {counted(imported, 'PDF importé', 'PDF importés')}" if imported else ""))

    def show_line(self, selector: str, text: str) -> None:
        """One of the tab's one-line texts; redrawn only when it changes, and never a layout pass (each
        line is one row high and as wide as the tab): a send changes them several times a second."""
        line = self.query_one(selector, Static)
        if str(line.content) != text:
            line.update(text, layout=False)

    def refresh_states(self) -> None:
        """The periodic refresh: reads the states again, unless a batch runs."""
        if not self.sending:
            self._read_states()

    def _read_states(self, recover: bool = False) -> None:
        """Read the states again (another operator may be sending this period), in a worker: only
        reads, unless ``recover`` (the tab opening: settle what a dead process left in flight).
        Each read is numbered: a thread worker cannot be stopped, so the read this one replaces
        still posts its rows, maybe after this one's; they are dropped (older than the table)."""
        self._reads += 1
        self._read_states_worker(self._reads, recover)

    @work(thread=True, exclusive=True, group="refresh-states", exit_on_error=False)
    def _read_states_worker(self, read: int, recover: bool) -> None:
        if recover and not workflow.recover() and not self.service_mode:
            return  # nothing to settle: the rows the tab has just read stand (a second read of
            # thousands of rows, while the first are drawn, slowed the opening; the refresh follows)
        service = service_watch.watch([]).service if self.service_mode else None
        self.post_message(self.StatesRead(queries.send_rows(self.period, self.structure_id), service, read))

    def _service_line(self, text: str) -> None:
        """The service's state, and the pace root set (messages per minute, for everybody)."""
        self.query_one("#service", Static).update(send_watch.service_line(text, getattr(self.app, "config", None)))

    def on_sending_panel_states_read(self, message: StatesRead) -> None:
        if message.read != self._reads:
            return  # a read replaced by a later one: its rows (and service state) are older
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

    def action_decide(self) -> None:
        row = self.table.current_invoice()
        if row is None or row.send_record_id is None or self.states.get(row.invoice_id) != "unknown":
            self.notify("Choisissez une ligne à l'état inconnu.", severity="warning")
            return
        ask_decision(self, row, resend=self._start, decided=self.load)

    # -- sending --------------------------------------------------------------------

    def action_send(self) -> None:
        if self.sending:
            return
        ticked = self.table.ticked_rows()
        if not ticked:
            self.notify("Aucune facture cochée (espace pour cocher).", severity="warning")
            return
        plan = workflow.plan_rows(ticked, include_sent=True)  # ticked: sent again on purpose
        if not plan.items:  # all of them left out (their structures have no sender address, say)
            reasons = [text for _, text in workflow.left_out_lines(plan.left_out)]
            self.notify("\n".join(["Aucune facture à envoyer.", *reasons]), severity="warning", timeout=15)
            return

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

    def action_ask_stop(self) -> None:
        run = self._stop  # this batch: a yes stops it only while it runs
        self._stop_question.ask(still_running=lambda: self.sending and self._stop is run, stop=self.action_cancel)

    def _start(self, plan: workflow.Plan) -> None:
        self.sending = True
        self.refresh_bindings()
        self.add_class("-has-run")
        self._stop = StopRequest()
        try:  # the server's limit sets the pace of a long batch: the time left takes it in
            rate = Association.get_solo().smtp_rate_per_minute
        except DATABASE_ERRORS:
            rate = 0
        self.run_progress.start(len(plan.items), time.monotonic(), timing.pacing_window() / rate if rate > 0 else 0)
        self.query_one(ProgressBar).update(total=max(len(plan.items), 1), progress=0)
        self._show_progress()
        self._ticker.resume()
        self._full_collections.start()
        self._send(plan, self._stop, getattr(self.app, "db_path", "?"))

    @work(thread=True, exclusive=True, group="send", exit_on_error=False)
    def _send(self, plan: workflow.Plan, stop: StopRequest, db_path) -> None:
        """The send in this thread (``send_run``); it only posts messages (``post_message`` is thread-safe)."""
        outcome, error = send_run.run(plan, stop, service_mode=self.service_mode, db_path=db_path,
                                      on_event=self._post_progress, on_watch=self._post_watched)
        self.post_message(self.Ended(outcome, error))

    def _post_progress(self, event: workflow.Event) -> None:
        self.post_message(self.Progress(event))

    def _post_watched(self, view: service_watch.ServiceView) -> None:
        self.post_message(self.Watched(view))

    def _show_progress(self) -> None:
        """The progress line now (and at each tick while a send runs: its waits count down)."""
        label = self.query_one("#progress-label", Static)
        self.show_line("#progress-label", self.run_progress.text(time.monotonic(), label.size.width or PROGRESS_WIDTH))

    def on_sending_panel_watched(self, message: Watched) -> None:
        view = message.view
        self._service_line(view.service)
        for state in view.states:
            if self.states.get(state.invoice_id) != state.status:
                self.table.set_state(state.invoice_id, state.status)
                if (line := send_watch.finished_line(state)) is not None:
                    self.log_line(line)
        self.table.set_queue_places(send_watch.places(view))
        progress = self.run_progress
        progress.done, progress.total = send_run.finished_states(view), len(view.states)
        self.query_one(ProgressBar).update(total=max(progress.total, 1), progress=progress.done)
        self.show_line("#progress-label", progress.count_text() + send_watch.waiting_text(view))
        self.update_summary()

    def log_line(self, text: str) -> None:
        self.send_log.pending.append(text)
        self.send_log.draw()

    def on_sending_panel_progress(self, message: Progress) -> None:
        """Only notes what the event changes; ``_draw_run`` draws it at its next tick."""
        event = message.event
        if isinstance(event, workflow.Queued):
            self.table.own_batch = event.batch
            if self.service_mode:
                count = len(event.record_ids)
                sends = plural(count, "l'enverra", "les enverra")
                self.send_log.pending.append(f"{counted(count, 'facture', 'factures')} en file d'attente : "
                                           f"le service d'envoi {sends}.")
        self.send_log.pending += workflow.describe(event)
        self.run_progress.follow(event, time.monotonic())
        if isinstance(event, cells.InvoiceStep):
            self._pending_states[event.invoice.invoice_id] = cells.STATE_AFTER[type(event)]

    def _draw_run(self) -> None:
        """What the send's events changed since the last tick, drawn at once, four times a second: each
        event drawn as it came made the screen render some 30 times a second during a batch.
        Measured (benchmarks/tui_bench.py --server-process --send 500, the 2-core machine under
        other work, load 4 to 6): the event loop's processor time during the batch went from 12.6-13.8 s
        (of 33-42 s) to 2.9-3.4 s (of 17-24 s), the 99th percentile of its stalls from 86-171 ms to
        47-74 ms. The progress line counts its waits down at each tick."""
        self.send_log.draw()
        if self._pending_states:
            for invoice_id, state in self._pending_states.items():
                self.table.set_state(invoice_id, state)
            self._pending_states.clear()
            self.update_summary()
        if not self.service_mode:
            progress = self.run_progress
            self.query_one(ProgressBar).update(total=max(progress.total, 1), progress=progress.done)
            self._show_progress()

    def on_sending_panel_ended(self, message: Ended) -> None:
        if message.error:
            self.send_log.pending.append(message.error)
        self._draw_run()
        self.sending = False
        self._ticker.pause()
        self._full_collections.end()
        self.refresh_bindings()
        self._stop_question.close()
        self._read_states()  # last-mailed times and states, read in a worker, cells updated in place
