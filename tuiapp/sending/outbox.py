"""The durable outbox: every send is written down before it happens.

A selection is first queued (one ``queued`` record per invoice, in one
transaction, before any network I/O). Each record is then claimed atomically
(``queued`` -> ``sending``), so that two operators or processes never send the
same invoice twice, and completed after the server's final reply. A record
left ``sending`` by a process that died becomes ``unknown``: it may or may not
have been delivered, and it is only sent again on an explicit decision;
unless its slot in the send journal holds the server's reply, which is then
applied (``tuiapp.sending.journal``). That settling, and the decision, are in
``tuiapp.sending.recovery``.

Every write here waits for another workstation's write, with back-off, for a
bounded time (``tuiapp.db.waiting``), then raises ``DatabaseBusy``; a full
disk raises ``DiskFull``.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import cast

from peewee import IntegrityError, fn

from tuiapp.db import heartbeat
from tuiapp.db.database import db, write_transaction
from tuiapp.db.fields import utcnow
from tuiapp.db.models import Invoice, Resident, SendRecord, SendStatus, Structure
from tuiapp.db.waiting import wait_for_writes
from tuiapp.domain import timing
from tuiapp.domain.periods import Period

#: A "sending" record claimed on another machine is presumed dead after this.
FOREIGN_CLAIM_LEASE = timedelta(seconds=timing.FOREIGN_CLAIM_LEASE)


def operator_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "inconnu"


def new_batch_id() -> str:
    return uuid.uuid4().hex[:12]


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return ""


_process_tags: dict[int, str] = {}


def process_tag() -> str:
    """``host:pid:start`` of this process (worked out once per process)."""
    pid = os.getpid()
    if pid not in _process_tags:
        _process_tags[pid] = f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"
    return _process_tags[pid]


def claimer_alive(tag: str | None, started_at) -> bool:
    if not tag or tag.count(":") < 2:
        return False
    host, pid_text, ticks = tag.rsplit(":", 2)
    if host != socket.gethostname():
        # Another machine's service (a PostgreSQL base shared by several servers) is judged by
        # its heartbeat: gone once it is stale. Any other process of another machine, by a lease.
        beat = heartbeat.of_host(host)
        if beat is not None and beat.process == tag:
            return not beat.stale()
        return started_at is not None and utcnow() - started_at < FOREIGN_CLAIM_LEASE
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # alive, another user's process
    return not ticks or _start_ticks(pid) in ("", ticks)


def holder_gone(tag: str | None) -> bool:
    """A process of this machine that no longer runs (or a tag naming none); one of another
    machine is never known gone: its rows count while their lease lasts."""
    if not tag or tag.count(":") < 2:
        return True
    return tag.rsplit(":", 2)[0] == socket.gethostname() and not claimer_alive(tag, None)


@dataclass
class QueueResult:
    batch: str
    record_ids: list[int] = field(default_factory=list)
    already_active: list[int] = field(default_factory=list)  # invoice ids queued or in flight elsewhere
    no_address: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # invoice ids whose last send is unknown
    already_sent: list[int] = field(default_factory=list)  # mailed meanwhile (by someone else, say)


def unknown_invoice_ids(invoice_ids) -> set[int]:
    """Invoices whose most recent send record is ``unknown``."""
    latest = (
        SendRecord.select(SendRecord.invoice, SendRecord.status)
        .where(SendRecord.invoice.in_(list(invoice_ids)))
        .order_by(SendRecord.invoice, SendRecord.id)
    )
    last: dict[int, str] = {}
    # Peewee's stubs type .tuples() as the model; it yields plain tuples
    for invoice_id, status in cast(Iterable[tuple[int, str]], latest.tuples()):
        last[invoice_id] = status
    return {invoice_id for invoice_id, status in last.items() if status == SendStatus.UNKNOWN}


@wait_for_writes
def queue_invoices(invoice_ids, *, operator: str, batch: str | None = None, include_sent: bool = False,
                   resend=()) -> QueueResult:
    """Write one ``queued`` record per invoice, in one transaction.

    Skipped: invoices already queued or being sent (by anyone), invoices whose
    resident has no address, invoices whose last send is ``unknown`` (they need
    a decision first: see ``resolve_unknown``) and, unless ``include_sent``
    or listed in ``resend`` (mailed already when chosen), invoices already mailed. All of it is read again under the write lock, so
    a selection made minutes ago (another operator sent meanwhile) cannot
    cause a second send.
    """
    result = QueueResult(batch or new_batch_id())
    ids = list(dict.fromkeys(invoice_ids))
    resend = set(resend)
    with write_transaction():
        unknown = unknown_invoice_ids(ids)
        invoices = {
            invoice.id: invoice
            for invoice in Invoice.select(Invoice, Resident).join(Resident).where(Invoice.id.in_(ids))
        }
        for invoice_id in ids:
            invoice = invoices.get(invoice_id)
            if invoice is None:
                continue
            if invoice_id in unknown:
                result.unknown.append(invoice_id)
                continue
            if invoice.last_mailed_at is not None and not (include_sent or invoice_id in resend):
                result.already_sent.append(invoice_id)
                continue
            recipients = invoice.resident.recipients
            if not recipients:
                result.no_address.append(invoice_id)
                continue
            try:
                with db.atomic():
                    record = SendRecord.create(
                        invoice=invoice_id, recipients=", ".join(recipients), operator=operator, batch=result.batch
                    )
            except IntegrityError:
                result.already_active.append(invoice_id)
                continue
            result.record_ids.append(record.id)
    return result


def queued_record_ids(period: Period | None = None, structure: Structure | int | None = None) -> list[int]:
    """Records still waiting (e.g. left by a batch that stopped), oldest first."""
    query = SendRecord.select(SendRecord.id).join(Invoice).where(SendRecord.status == SendStatus.QUEUED)
    if period is not None:
        query = query.where((Invoice.period_year == period.year) & (Invoice.period_month == period.month))
    if structure is not None:
        query = query.where(Invoice.structure == structure)
    return [record_id for (record_id,) in _ids(query.order_by(SendRecord.id).tuples())]


def waiting_by_period() -> list[tuple[Period, int]]:
    """How many invoices wait in the queue (``queued``: never claimed, or put back), per period,
    the most recent first. In local mode nobody sends them until an operator does (a send that
    was interrupted, the screen left during a send); in service mode the service does."""
    return _by_period(SendRecord.status == SendStatus.QUEUED)


def left_waiting_by_period() -> list[tuple[Period, int]]:
    """Of those, the ones an interrupted send left: their batch has no record being sent and none
    queued, claimed or finished for ``batch_idle()`` seconds. A batch still being sent (by another
    workstation, ``tuiapp send``, this one) is queued whole then claimed one record at a time:
    its waiting records are not left behind."""
    cutoff = utcnow() - timedelta(seconds=batch_idle())
    recent = (SendRecord.created_at >= cutoff) | (SendRecord.started_at >= cutoff) | (
        SendRecord.finished_at >= cutoff)
    live = SendRecord.select(SendRecord.batch).where(
        SendRecord.batch.is_null(False) & (recent | (SendRecord.status == SendStatus.SENDING)))
    quiet = (SendRecord.created_at < cutoff) & (SendRecord.started_at.is_null(True) | (
        SendRecord.started_at < cutoff)) & (SendRecord.finished_at.is_null(True) | (SendRecord.finished_at < cutoff))
    batch_quiet = SendRecord.batch.is_null(True) | SendRecord.batch.not_in(live)  # (live: no NULL in it)
    return _by_period((SendRecord.status == SendStatus.QUEUED) & quiet & batch_quiet)


def batch_idle() -> float:
    """How long a batch goes without a sign (a record queued, claimed or finished) before its waiting
    records are called left by an interrupted send: the longer of the sender service's silence
    (``$TUIAPP_HEARTBEAT_STALE``) and the pacing window (``$TUIAPP_PACING_WINDOW``), which may
    space two messages of a live send that far."""
    return max(timing.heartbeat_stale(), timing.pacing_window())


def _by_period(where) -> list[tuple[Period, int]]:
    rows = (
        SendRecord.select(Invoice.period_year, Invoice.period_month, fn.COUNT(SendRecord.id))
        .join(Invoice)
        .where(where)
        .group_by(Invoice.period_year, Invoice.period_month)
        .order_by(Invoice.period_year.desc(), Invoice.period_month.desc())
        .tuples()
    )
    return [(Period(year, month), count) for year, month, count in cast(Iterable[tuple[int, int, int]], rows)]


def queued_record_ids_for(invoice_ids) -> list[int]:
    """The waiting records of these invoices (left by a batch that stopped, say)."""
    query = SendRecord.select(SendRecord.id).where(
        SendRecord.invoice.in_(list(invoice_ids)) & (SendRecord.status == SendStatus.QUEUED)
    )
    return [record_id for (record_id,) in _ids(query.order_by(SendRecord.id).tuples())]


def _ids(rows: object) -> Iterable[tuple[int]]:
    return cast(Iterable[tuple[int]], rows)  # Peewee's stubs type .tuples() as the model


@wait_for_writes(again_when_lost=True)
def withdraw_unsent(batch: str, record_ids=()) -> int:
    """After the operator cancelled a batch: its records (and ``record_ids``, resumed
    from an earlier run) never claimed are deleted (nothing happened to them),
    those claimed then put back are closed as failed, so that no later run
    sends them without being asked. Returns how many."""
    ours = (SendRecord.batch == batch) | SendRecord.id.in_(list(record_ids))
    return _withdraw((SendRecord.status == SendStatus.QUEUED) & ours,
                     "Envoi annulé par l'opérateur avant la remise du message.")


def _withdraw(waiting, error: str) -> int:
    """Out of the queue: never claimed, deleted (nothing happened to them); put back after a
    try, closed as failed with ``error``. Returns how many."""
    with write_transaction():
        count = SendRecord.select().where(waiting).count()
        SendRecord.delete().where(waiting & (SendRecord.attempts == 0)).execute()
        SendRecord.update(status=SendStatus.FAILED, finished_at=utcnow(), error=error).where(waiting).execute()
    return count


@wait_for_writes(again_when_lost=True)
def withdraw_queued(period: Period, *, operator: str | None) -> int:
    """Take the period's waiting invoices out of the queue: those ``operator`` queued, or
    everybody's (None). Never claimed: deleted; put back after a try: closed as failed."""
    invoices = Invoice.select(Invoice.id).where(
        (Invoice.period_year == period.year) & (Invoice.period_month == period.month))
    waiting = (SendRecord.status == SendStatus.QUEUED) & SendRecord.invoice.in_(invoices)
    if operator is not None:
        waiting &= SendRecord.operator == operator
    return _withdraw(waiting, "Retirée de la file d'attente avant la remise du message.")


@wait_for_writes(again_when_lost=True)
def claim(record_id: int, *, operator: str | None, message_id: str, amount_ht: Decimal | None = None,
          pdf_sha256: str | None = None) -> bool:
    """Take a queued record for sending; False if somebody else already did.
    ``operator`` None keeps the one who queued it (the sender service sends for them).
    ``amount_ht``, ``pdf_sha256``: what this send carries, kept in its record (the history
    shows what each version of a rectified invoice said).

    One compare-and-set ``UPDATE ... WHERE id = ? AND status = 'queued'``: of
    two processes claiming the same record, SQLite lets one change the row,
    and the other's update counts no row. Run again by ``wait_for_writes`` after
    a connection lost at its COMMIT, it finds its own claim (same process, same
    message id) done, and says so."""
    changes = dict(status=SendStatus.SENDING, claimed_by=process_tag(), started_at=utcnow(),
                   attempts=SendRecord.attempts + 1, message_id=message_id, error=None,
                   amount_ht=amount_ht, pdf_sha256=pdf_sha256)
    if operator is not None:
        changes["operator"] = operator
    mine = (SendRecord.status == SendStatus.SENDING) & (SendRecord.claimed_by == changes["claimed_by"]) & (
        SendRecord.message_id == message_id) & (SendRecord.message_id != "")  # (a Message-ID is unique)
    claimed = SendRecord.update(**changes).where(
        (SendRecord.id == record_id) & ((SendRecord.status == SendStatus.QUEUED) | mine)).execute()
    return claimed == 1


@wait_for_writes(again_when_lost=True)
def complete(record_id: int, status: str, *, reply: str = "", refused: dict[str, str] | None = None,
             error: str | None = None, expect: str = SendStatus.SENDING) -> bool:
    """Record the final outcome of a record in ``expect`` state; a delivery also
    stamps the invoice's last-mailed time. False if the record was no longer in
    that state (it is then left as it is)."""
    assert status in (SendStatus.SENT, SendStatus.PARTIAL, SendStatus.FAILED, SendStatus.UNKNOWN)
    now = utcnow()
    refused_text = "; ".join(f"{a} : {r}" for a, r in (refused or {}).items()) or None
    with write_transaction():
        updated = SendRecord.update(
            status=status, finished_at=now, last_reply=reply or None, refused_recipients=refused_text,
            error=error, claimed_by=None,
        ).where((SendRecord.id == record_id) & (SendRecord.status == expect)).execute()
        if updated and status in (SendStatus.SENT, SendStatus.PARTIAL):
            invoice = SendRecord.select(SendRecord.invoice).where(SendRecord.id == record_id)
            Invoice.update(last_mailed_at=now).where(Invoice.id.in_(invoice)).execute()
    return updated == 1


@wait_for_writes(again_when_lost=True)
def release(record_id: int, *, error: str | None = None, reply: str = "") -> None:
    """Put a claimed record back in the queue: it was not delivered (batch stopped)."""
    SendRecord.update(
        status=SendStatus.QUEUED, claimed_by=None, error=error, last_reply=reply or None
    ).where((SendRecord.id == record_id) & (SendRecord.status == SendStatus.SENDING)).execute()
