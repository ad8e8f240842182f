"""The send engine: sends a batch of queued records, one message per invoice.

It reuses one connection for the batch (re-opened when dropped), retries a
message after transient failures with a bounded back-off, paces itself at the
association's messages per minute, builds the next messages (PDF included) in
another process while the current one is on the wire, and can be cancelled
between two messages. Every step
is reported as an event (``tuiapp.core.events``) to a callback: the TUI and the
CLI both drive it. It never imports Textual.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import replace

from tuiapp.core import events as ev
from tuiapp.core import outbox
from tuiapp.core.compose import CompositionError, envelope_recipients, message_id_for
from tuiapp.core.documents import InvoiceDocument, document_for, lines_of
from tuiapp.core.message_builder import BuildFailed, MessageBuilder
from tuiapp.core.smtp_client import Authenticator, SmtpConnection, SmtpSettings
from tuiapp.core.smtp_errors import DeliveryUncertain, MessageRejected, SmtpProblem
from tuiapp.db.models import Association, Invoice, Resident, SendRecord, SendStatus, Structure

EventSink = Callable[[ev.Event], None]
#: From this many messages on, they are built in helper processes. Below,
#: the half second the helpers take to start outweighs them (measured on two
#: processors: 80 messages in 1.6 s either way).
PROCESS_RENDERING_FROM = 64


class _Stop(Exception):
    def __init__(self, problem: SmtpProblem | None) -> None:
        self.problem = problem


class SendEngine:
    def __init__(
        self,
        settings: SmtpSettings,
        authenticator: Authenticator,
        *,
        operator: str | None = None,
        on_event: EventSink | None = None,
        cancel: threading.Event | None = None,
        max_tries: int = 3,
        retry_delays: Iterable[float] = (5.0, 20.0),
        pacing_window: float = 60.0,
        prefetch: int = 8,
        render_in_process: bool | None = None,
        connect: Callable[[SmtpSettings, Authenticator], SmtpConnection] = SmtpConnection.open,
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.operator = operator or outbox.operator_name()
        self.on_event = on_event or (lambda event: None)
        self.cancel = cancel or threading.Event()
        self.max_tries = max(1, max_tries)
        self.retry_delays = tuple(retry_delays) or (0.0,)
        self.pacing_window = pacing_window
        self.prefetch = max(1, prefetch)
        self.render_in_process = render_in_process
        self._connect = connect
        self._connection: SmtpConnection | None = None
        self._builder: MessageBuilder | None = None
        self._recent: deque[float] = deque()

    # -- public ---------------------------------------------------------------

    def run(self, record_ids: Iterable[int], *, batch: str = "") -> ev.BatchFinished:
        """Send the given queued records, in order; returns the summary (also emitted)."""
        ids = list(dict.fromkeys(record_ids))
        self.on_event(ev.BatchStarted(batch, len(ids)))
        self._seed_pacing()
        jobs = self._load(ids)
        counts = dict.fromkeys(("sent", "partial", "failed", "uncertain", "skipped"), 0)
        statuses: dict[int, str] = {}
        stopped: SmtpProblem | None = None
        cancelled = False
        in_process = self.render_in_process
        if in_process is None:
            in_process = len(jobs) >= PROCESS_RENDERING_FROM
        with MessageBuilder(in_helpers=in_process, prefetch=self.prefetch) as builder:
            self._builder = builder
            pending: deque[tuple[SendRecord, InvoiceDocument, str, Future]] = deque()
            queue = iter(jobs)
            try:
                while True:
                    while len(pending) < builder.ahead() and (job := next(queue, None)) is not None:
                        record, doc = job
                        message_id = message_id_for(doc.sender_email) if doc.sender_email else ""
                        pending.append((record, doc, message_id, builder.submit(doc, message_id)))
                    if not pending:
                        break
                    if self.cancel.is_set():
                        cancelled = True
                        break
                    record, doc, message_id, payload = pending.popleft()
                    outcome = self._send_one(record, doc, message_id, payload)
                    statuses[record.id] = outcome
                    key = {"sent": "sent", "partial": "partial", "failed": "failed", "unknown": "uncertain",
                           "skipped": "skipped"}.get(outcome)
                    if key:
                        counts[key] += 1
            except _Stop as stop:
                stopped = stop.problem
                cancelled = stop.problem is None
            finally:
                for *_, future in pending:
                    future.cancel()
                self._close()
        remaining = sum(1 for record_id in ids if record_id not in statuses or statuses[record_id] == "queued")
        if stopped is not None:
            self.on_event(ev.BatchStopped(stopped, remaining))
        finished = ev.BatchFinished(
            batch, remaining=remaining, cancelled=cancelled, stopped=stopped, records=statuses, **counts
        )
        self.on_event(finished)
        return finished

    # -- one invoice ----------------------------------------------------------

    def _send_one(self, record: SendRecord, doc: InvoiceDocument, message_id: str, payload: Future) -> str:
        ref = ev.InvoiceRef(record.id, doc.invoice_id, doc.number, doc.resident_name, doc.recipients)
        self._pace()  # before the claim: a paused invoice stays queued
        if not outbox.claim(record.id, operator=self.operator, message_id=message_id):
            status = SendRecord.get_by_id(record.id).status
            self.on_event(ev.InvoiceSkipped(ref, status))
            return "skipped"
        self.on_event(ev.InvoiceClaimed(ref))
        try:
            return self._deliver(record, doc, payload, ref, message_id)
        except _Stop:
            outbox.release(record.id, error="Envoi arrêté avant ce message.")
            raise
        except BaseException as exc:
            # Anything else (keyring, database, Ctrl+C): never leave the claim
            # behind. Not handed over: back to the queue; maybe handed over: unknown.
            self._abandon(record.id, exc)
            raise

    def _abandon(self, record_id: int, exc: BaseException) -> None:
        handed_over = self._connection is not None and self._connection.payload_sent
        try:
            if handed_over:
                outbox.complete(record_id, SendStatus.UNKNOWN,
                                error=f"Envoi interrompu ({type(exc).__name__}) juste après la remise du message.")
            else:
                outbox.release(record_id, error=f"Envoi interrompu ({type(exc).__name__}) avant la remise du message.")
        except Exception:  # the database itself failed: the next start turns the claim into "unknown"
            pass

    def _deliver(self, record, doc: InvoiceDocument, payload: Future, ref: ev.InvoiceRef, message_id: str) -> str:
        sender = doc.sender_email or ""
        try:
            message = self._builder.result(payload, doc, message_id)
        except (CompositionError, BuildFailed) as exc:  # this invoice fails, the batch goes on
            outbox.complete(record.id, SendStatus.FAILED, error=str(exc))
            self.on_event(ev.InvoiceFailed(ref, exc))
            return SendStatus.FAILED
        envelope = envelope_recipients(doc)
        attempt = 0
        while True:
            if attempt:
                self._pace()
            try:
                delivery = self._connection_for_batch().send(message, sender, envelope)
            except SmtpProblem as problem:
                self._record_attempt()
                if isinstance(problem, DeliveryUncertain):
                    outbox.complete(record.id, SendStatus.UNKNOWN, error=str(problem))
                    self.on_event(ev.InvoiceUncertain(ref, problem))
                    return SendStatus.UNKNOWN
                if problem.retryable and attempt + 1 < self.max_tries:
                    delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                    self.on_event(ev.RetryScheduled(ref, problem, attempt + 1, delay))
                    self._close()
                    attempt += 1
                    if self.cancel.wait(delay):
                        outbox.release(record.id, error="Envoi annulé avant un nouvel essai.")
                        raise _Stop(None) from None
                    continue
                if problem.retryable and problem.code and not problem.stops_batch:
                    # A temporary refusal of this message (e.g. 452 mailbox full):
                    # it waits for the next run, and the batch goes on.
                    outbox.release(record.id, error=str(problem), reply=problem.server_reply)
                    self.on_event(ev.InvoiceDeferred(ref, problem))
                    return SendStatus.QUEUED
                if problem.stops_batch or problem.retryable:
                    outbox.release(record.id, error=str(problem), reply=problem.server_reply)
                    raise _Stop(problem) from None
                outbox.complete(record.id, SendStatus.FAILED, reply=problem.server_reply, error=str(problem))
                self.on_event(ev.InvoiceFailed(ref, problem))
                return SendStatus.FAILED
            self._record_attempt()
            break
        refused = {address: reply for address, reply in delivery.refused.items() if address in doc.recipients}
        if len(refused) == len(doc.recipients):  # only the Bcc copy went through
            problem = MessageRejected(reply="; ".join(f"{a} : {r}" for a, r in refused.items()))
            outbox.complete(record.id, SendStatus.FAILED, reply=delivery.reply, refused=refused, error=str(problem))
            self.on_event(ev.InvoiceFailed(ref, problem))
            return SendStatus.FAILED
        if refused:
            outbox.complete(record.id, SendStatus.PARTIAL, reply=delivery.reply, refused=refused)
            self.on_event(ev.InvoicePartial(ref, delivery.reply, message_id, refused))
            return SendStatus.PARTIAL
        outbox.complete(record.id, SendStatus.SENT, reply=delivery.reply, refused=delivery.refused)
        self.on_event(ev.InvoiceSent(ref, delivery.reply, message_id))
        return SendStatus.SENT

    # -- helpers --------------------------------------------------------------

    def _load(self, ids: list[int]) -> list[tuple[SendRecord, InvoiceDocument]]:
        """Queued records with a snapshot of their invoice, in the order given."""
        association = Association.get_solo()
        records = {
            record.id: record
            for record in SendRecord.select(SendRecord, Invoice, Resident, Structure)
            .join(Invoice)
            .join(Resident)
            .switch(Invoice)
            .join(Structure)
            .where(SendRecord.id.in_(ids))
        }
        lines = lines_of(record.invoice_id for record in records.values())
        jobs = []
        for record_id in ids:
            record = records.get(record_id)
            if record is None:
                continue
            doc = document_for(record.invoice, association, lines.get(record.invoice_id, ()))
            recipients = tuple(address.strip() for address in record.recipients.split(",") if address.strip())
            jobs.append((record, replace(doc, recipients=recipients)))
        return jobs

    def _connection_for_batch(self) -> SmtpConnection:
        if self._connection is None or not self._connection.is_open:
            self._connection = self._connect(self.settings, self.authenticator)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _pace(self) -> None:
        """Wait so that no window of ``pacing_window`` seconds holds more than the rate."""
        rate = self.settings.rate_per_minute
        if rate <= 0:
            return
        while True:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= self.pacing_window:
                self._recent.popleft()
            if len(self._recent) < rate:
                return
            delay = self._recent[0] + self.pacing_window - now
            self.on_event(ev.PacingWait(delay))
            if self.cancel.wait(delay):
                raise _Stop(None)

    def _seed_pacing(self) -> None:
        """Count the messages that left within the window before this run (any process)."""
        if self.settings.rate_per_minute <= 0:
            return
        from datetime import timedelta

        from tuiapp.db.fields import utcnow

        now_wall, now_mono = utcnow(), time.monotonic()
        for finished in outbox.recent_send_times(timedelta(seconds=self.pacing_window)):
            self._recent.append(now_mono - (now_wall - finished).total_seconds())

    def _record_attempt(self) -> None:
        # Stamped once the server has answered, so that its receive times, too,
        # never crowd more than the rate into one window.
        if self.settings.rate_per_minute > 0:
            self._recent.append(time.monotonic())
