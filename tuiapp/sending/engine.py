"""The send engine: sends a batch of queued records, one message per invoice.

It reuses one connection for the batch (re-opened when dropped), does after
a failed attempt what ``tuiapp.sending.policy.decide`` says (retry after a
pause, renew the credentials, defer, fail the invoice, stop the batch, or
unknown), paces itself at the association's messages per minute and keeps to its
account's connection limit, both across every process sending on the database
(``tuiapp.sending.pacing``), builds each message (PDF included) in the
sending thread just before it claims the invoice (a crash while building
leaves it queued), and stops between two messages when asked (``StopRequest``).
Every step is reported as an event (``tuiapp.sending.events``) to a callback:
the TUI and the CLI both drive it. It never imports Textual.

Each record goes: claimed (``sending``), its journal slot reserved and synced,
its message handed over, the server's reply written into the slot, then the
outcome into the database, and the slot deleted. Once the message's final
dot is written, the record never goes back to the queue: it ends sent,
partial, failed (the server's reply) or unknown; only the server's own
refusal for now (a 4xx reply) lets it wait for another try. When the
database cannot be written (another workstation's long write, a full disk),
the batch stops and the record stays ``sending`` with its slot, which the
next start applies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from tuiapp.db import queries
from tuiapp.db.database import OPERATIONAL_ERRORS
from tuiapp.db.models import Association, Invoice, SendRecord, SendStatus
from tuiapp.db.snapshots import document_for, lines_of
from tuiapp.db.waiting import (
    DatabaseBusy,
    DatabaseUnreachable,
    DiskFull,
    disk_full_text,
    is_connection_lost,
    is_disk_full,
)
from tuiapp.domain import timing
from tuiapp.domain.documents import InvoiceDocument
from tuiapp.domain.errors import TuiappError
from tuiapp.mail.compose import CompositionError, envelope_recipients, message_id_for
from tuiapp.mail.problems import MessageRejected, SmtpProblem
from tuiapp.mail.smtp_client import Authenticator, SmtpConnection, SmtpSettings
from tuiapp.sending import events as ev
from tuiapp.sending import journal, outbox, pacing
from tuiapp.sending.message import build_message
from tuiapp.sending.policy import MAX_TRIES, Decision, decide

EventSink = Callable[[ev.Event], None]


class StopRequest(threading.Event):
    """Stops a batch between two messages.

    ``set()`` is an interruption (a signal, a closed pipe, leaving the app):
    the invoices not sent yet stay queued for the next run. ``cancel()`` is the
    operator's decision: they are withdrawn (``tuiapp.sending.workflow``).
    """

    withdraw = False

    def cancel(self) -> None:
        self.withdraw = True
        self.set()

    def clear(self) -> None:
        self.withdraw = False
        super().clear()


class JournalUnavailable(TuiappError):
    """The journal slot could not be reserved: nothing is handed over."""

    def __init__(self, folder, exc: OSError) -> None:
        if is_disk_full(exc):
            reason = disk_full_text(folder / "slot")
        else:
            reason = f"dossier « {folder} » inutilisable ({exc.strerror or type(exc).__name__})"
        super().__init__(f"Journal d'envoi impossible à écrire : {reason}")


class _Stop(Exception):
    """Stop the batch; ``outcome``: what becomes of the record in hand, if one is."""

    def __init__(self, problem: SmtpProblem | TuiappError | None, outcome: _Outcome | None = None) -> None:
        self.problem = problem
        self.outcome = outcome


@dataclass
class _Outcome:
    """What becomes of a claimed record: completed with ``status``, or (None) back to the queue."""

    status: str | None
    event: ev.Event | None = None
    reply: str = ""
    refused: dict | None = None
    error: str | None = None


_DATABASE_FAILURES = (DatabaseBusy, DatabaseUnreachable, DiskFull)


class SendEngine:
    def __init__(
        self,
        settings: SmtpSettings,
        authenticator: Authenticator,
        *,
        operator: str | None = None,
        on_event: EventSink | None = None,
        cancel: threading.Event | None = None,
        max_tries: int = MAX_TRIES,
        retry_delays: Iterable[float] = timing.RETRY_DELAYS,
        pacing_window: float | None = None,
        connect: Callable[[SmtpSettings, Authenticator], SmtpConnection] = SmtpConnection.open,
        clock: Callable[[], float] = time.time,
        wait: Callable[[float], bool] | None = None,
        keep_queuing_operator: bool = False,
    ) -> None:
        """``clock`` times the pacing and the connection leases, in the database that every
        process shares (the wall clock); ``wait(seconds)`` makes every pause (pacing,
        connection limit, retry) and returns True when the batch was asked to stop
        meanwhile: by default the ``cancel`` event's own ``wait``. Tests give both a fake
        clock. ``pacing_window``: by default ``timing.pacing_window()``, read at each message."""
        self.settings = settings
        self.authenticator = authenticator
        self.operator = operator or outbox.operator_name()
        #: The sender service sends for the operators: each record keeps who queued it.
        self.keep_queuing_operator = keep_queuing_operator
        self.on_event = on_event or (lambda event: None)
        self.cancel = cancel or StopRequest()
        self.max_tries = max(1, max_tries)
        self.retry_delays = tuple(retry_delays) or (0.0,)
        self._connect = connect
        self._wait = wait or self.cancel.wait
        self._connection: SmtpConnection | None = None
        self._renewed = False  # credentials renewed, and no message went through since
        self._limits = pacing.AccountLimits(settings, clock=clock, wait=self._wait, window=pacing_window,
                                            on_event=lambda event: self.on_event(event))

    def run(self, record_ids: Iterable[int], *, batch: str = "") -> ev.BatchFinished:
        """Send the given queued records, in order; returns the summary (also emitted)."""
        ids = list(dict.fromkeys(record_ids))
        self.on_event(ev.BatchStarted(batch, len(ids)))
        counts = dict.fromkeys(("sent", "partial", "failed", "unknown", "skipped"), 0)
        statuses: dict[int, str] = {}
        stopped: SmtpProblem | TuiappError | None = None
        requested = False
        try:
            for record, doc in self._load(ids):
                if self.cancel.is_set():
                    requested = True
                    break
                outcome = self._send_one(record, doc, statuses)
                if outcome in counts:
                    counts[outcome] += 1
        except _Stop as stop:
            stopped = stop.problem
            requested = stop.problem is None
        except OPERATIONAL_ERRORS as exc:  # a read: its server gone (PostgreSQL)
            if not is_connection_lost(exc):
                raise
            stopped = DatabaseUnreachable(None)
        finally:
            self._close()
        remaining = sum(1 for record_id in ids if statuses.get(record_id, "queued") == "queued")
        pending = next((record_id for record_id, status in statuses.items() if status == SendStatus.SENDING), None)
        if stopped is not None:
            self.on_event(ev.BatchStopped(stopped, remaining, kept=pending is not None))
        withdraw = requested and getattr(self.cancel, "withdraw", False)
        finished = ev.BatchFinished(
            batch, remaining=remaining, cancelled=withdraw, interrupted=requested and not withdraw,
            stopped=stopped, records=statuses, **counts,
        )
        self.on_event(finished)
        return finished

    def _send_one(self, record: SendRecord, doc: InvoiceDocument, statuses: dict[int, str]) -> str:
        # before the claim: an invoice that waits for a connection or for the pace stays queued
        self._limited(self._limits.hold_connection)
        self._limited(self._limits.pace)
        try:
            return self._send_paced(record, doc, statuses)
        finally:
            self._limits.settle()  # its time, once the outcome is written; or it goes, unused

    def _send_paced(self, record: SendRecord, doc: InvoiceDocument, statuses: dict[int, str]) -> str:
        ref = ev.InvoiceRef(record.id, doc.invoice_id, doc.number, doc.resident_name, doc.recipients)
        message_id = message_id_for(doc.sender_email) if doc.sender_email else ""
        try:
            built, unusable = build_message(doc, message_id), None
        except CompositionError as exc:  # this invoice fails, the batch goes on
            built, unusable = None, exc
        message = built.data if built is not None else b""
        try:
            claimed = outbox.claim(record.id, operator=None if self.keep_queuing_operator else self.operator,
                                   message_id=message_id, amount_ht=doc.amount_ht,
                                   pdf_sha256=built.pdf_sha256 if built is not None else None)
        except _DATABASE_FAILURES as exc:
            raise _Stop(exc) from None
        if not claimed:
            self.on_event(ev.InvoiceSkipped(ref, SendRecord.get_by_id(record.id).status))
            statuses[record.id] = "skipped"
            return "skipped"
        statuses[record.id] = SendStatus.SENDING
        try:
            slot = journal.reserve(record.id, message_id=message_id, claimed_by=outbox.process_tag())
        except OSError as exc:  # nothing is handed over: back to the queue, and the batch stops
            problem = JournalUnavailable(journal.current_folder(), exc)
            self._settle(record.id, None, _Outcome(None, error=str(problem)), statuses)
            raise _Stop(problem) from None
        connection: list[SmtpConnection | None] = [None]
        stop: _Stop | None = None
        try:
            try:
                self.on_event(ev.InvoiceClaimed(ref))
                if unusable is not None:
                    outcome = _Outcome(SendStatus.FAILED, ev.InvoiceFailed(ref, unusable), error=str(unusable))
                else:
                    outcome = self._deliver(doc, ref, message_id, message, connection)
            except _Stop as exc:
                stop = exc
                outcome = exc.outcome or _Outcome(None, error="Envoi arrêté avant ce message.")
            except BaseException as exc:
                self._abandon(record.id, slot, connection[0], exc, statuses)
                raise
            if outcome.status is not None:  # known: kept on disk before the database is asked
                slot.record(outcome.status, reply=outcome.reply, refused=outcome.refused, error=outcome.error)
            try:
                self._settle(record.id, slot, outcome, statuses)
            finally:
                if outcome.event is not None:
                    self.on_event(outcome.event)
        finally:
            slot.keep()
        if stop is not None:
            raise stop
        return statuses[record.id]

    def _abandon(self, record_id: int, slot: journal.Slot, connection: SmtpConnection | None,
                 exc: BaseException, statuses: dict[int, str]) -> None:
        """An unexpected exception (keyring, Ctrl+C twice ...) while the record is claimed:
        never leave the claim behind. The server may hold the message: unknown;
        else back to the queue. If even that cannot be written, the next start
        makes it unknown (or applies its slot)."""
        name = type(exc).__name__
        if connection is not None and connection.payload_sent:
            outcome = _Outcome(SendStatus.UNKNOWN,
                               error=f"Envoi interrompu ({name}) juste après la remise du message.")
            slot.record(SendStatus.UNKNOWN, error=outcome.error)
        else:
            outcome = _Outcome(None, error=f"Envoi interrompu ({name}) avant la remise du message.")
        try:
            self._settle(record_id, slot, outcome, statuses)
        except BaseException:
            pass

    def _settle(self, record_id: int, slot: journal.Slot | None, outcome: _Outcome, statuses: dict[int, str]) -> None:
        """Write the record's outcome (or put it back in the queue), waiting for the
        database; if it cannot be written, the record stays ``sending`` with its
        slot, and the batch stops."""
        try:
            if outcome.status is None:
                if slot is not None:  # not delivered: should the database not take it, the journal says so
                    slot.record(SendStatus.QUEUED, reply=outcome.reply, error=outcome.error)
                outbox.release(record_id, error=outcome.error, reply=outcome.reply)
                statuses[record_id] = SendStatus.QUEUED
            else:
                outbox.complete(record_id, outcome.status, reply=outcome.reply, refused=outcome.refused,
                                error=outcome.error)
                statuses[record_id] = outcome.status
        except BaseException as exc:  # the slot is now the only record of the outcome
            if slot is not None:
                slot.sync()
            if isinstance(exc, _DATABASE_FAILURES):
                raise _Stop(exc) from None
            raise
        if slot is not None:
            slot.discard()

    def _deliver(self, doc: InvoiceDocument, ref: ev.InvoiceRef, message_id: str, message: bytes,
                 connection: list) -> _Outcome:
        """Hand the message over, trying again as ``policy.decide`` says; returns what
        becomes of the record (nothing written yet)."""
        envelope, attempt = envelope_recipients(doc), 0
        while True:
            if attempt:
                self._limited(self._limits.pace)
            try:
                connection[0] = self._connection_for_batch()
                delivery = connection[0].send(message, doc.sender_email or "", envelope)
            except SmtpProblem as problem:
                self._limits.attempted()
                outcome = self._after_failure(problem, attempt, ref)
                if outcome is not None:
                    return outcome
                attempt += 1
                continue
            self._limits.attempted()
            self._renewed = False  # the credentials worked: a later refusal is worth a renewal again
            return self._delivered(doc, ref, message_id, delivery)

    def _after_failure(self, problem: SmtpProblem, attempt: int, ref: ev.InvoiceRef) -> _Outcome | None:
        """Apply ``policy.decide``: None to try again, or what becomes of the record;
        raises ``_Stop`` when the batch stops."""
        kept = _Outcome(None, reply=problem.server_reply, error=str(problem))  # back to the queue
        match decide(problem, attempt, max_tries=self.max_tries, can_renew=not self._renewed):
            case Decision.RETRY:
                delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                self.on_event(ev.RetryScheduled(ref, problem, attempt + 1, delay))
                self._close()
                if self._wait(delay):
                    raise _Stop(None, _Outcome(None, error="Envoi arrêté avant un nouvel essai."))
                return None
            case Decision.RENEW_AND_RETRY if self.authenticator.renew():
                self._renewed = True
                self.on_event(ev.RetryScheduled(ref, problem, attempt + 1, 0.0))
                self._close()
                return None
            case Decision.DEFER:
                return replace(kept, event=ev.InvoiceDeferred(ref, problem))
            case Decision.FAIL_INVOICE:
                return replace(kept, status=SendStatus.FAILED, event=ev.InvoiceFailed(ref, problem))
            case Decision.UNCERTAIN:  # the reply never came: none to keep
                return _Outcome(SendStatus.UNKNOWN, ev.InvoiceUnknown(ref, problem), error=str(problem))
            case _:  # STOP_BATCH, or credentials with nothing to renew
                raise _Stop(problem, kept)

    def _delivered(self, doc: InvoiceDocument, ref: ev.InvoiceRef, message_id: str, delivery) -> _Outcome:
        """The server took the message for some of its recipients: sent, partial, or
        failed when only the Bcc copy went through."""
        refused = {address: reply for address, reply in delivery.refused.items() if address in doc.recipients}
        if len(refused) == len(doc.recipients):
            problem = MessageRejected(reply="; ".join(f"{a} : {r}" for a, r in refused.items()))
            return _Outcome(SendStatus.FAILED, ev.InvoiceFailed(ref, problem), reply=delivery.reply,
                            refused=refused, error=str(problem))
        if refused:
            return _Outcome(SendStatus.PARTIAL, ev.InvoicePartial(ref, delivery.reply, message_id, refused),
                            reply=delivery.reply, refused=refused)
        return _Outcome(SendStatus.SENT, ev.InvoiceSent(ref, delivery.reply, message_id), reply=delivery.reply,
                        refused=delivery.refused)

    def _load(self, ids: list[int]) -> list[tuple[SendRecord, InvoiceDocument]]:
        """Queued records with a snapshot of their invoice, in the order given."""
        association = Association.get_solo()
        records = {
            record.id: record
            for record in queries.invoices_with_people(SendRecord.select(SendRecord, Invoice).join(Invoice))
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
            self._limited(self._limits.hold_connection)  # none held after a retry closed the last one
            self._connection = self._connect(self.settings, self.authenticator)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._limits.release_connection()

    def _limited(self, step: Callable[[], bool]) -> None:
        """Run one of the account limits' steps; they wait, and say whether the batch was asked to stop meanwhile."""
        try:
            stopped = step()
        except _DATABASE_FAILURES as exc:
            raise _Stop(exc) from None
        if stopped:
            raise _Stop(None)
