"""Settling what the outbox left behind: the ``sending`` records of a process that died, and
the operator's decision on a send whose fate is unknown.

A ``sending`` record nobody works on any more takes the outcome its slot in the send journal
kept (``tuiapp.sending.journal``), or becomes ``unknown``: it may or may not have been
delivered, and it is only sent again on the operator's decision (``resolve_unknown``).
Moved out of ``tuiapp.sending.outbox``, which queues, claims and completes the records.
"""

from __future__ import annotations

from tuiapp.db.database import write_transaction
from tuiapp.db.fields import utcnow
from tuiapp.db.models import SendRecord, SendStatus
from tuiapp.db.waiting import wait_for_writes
from tuiapp.sending import journal, outbox

_INTERRUPTED = "Envoi interrompu (programme arrêté pendant l'envoi) : le message est peut-être parti."
_FROM_JOURNAL = "Résultat repris du journal d'envoi (la base n'avait pas pu l'enregistrer sur le moment)."


def _abandoned(record: SendRecord, slot: journal.Slot | None) -> bool:
    """Nobody works on this ``sending`` record any more."""
    if journal.in_flight(record.id):
        return False
    if record.claimed_by == outbox.process_tag():  # this process gave up on it (its batch stopped)
        return slot is not None
    return not outbox.claimer_alive(record.claimed_by, record.started_at)


def _matches(slot: journal.Slot, record: SendRecord) -> bool:
    return (slot.content.get("message_id") == (record.message_id or "")
            and slot.content.get("claimed_by") == record.claimed_by)


@wait_for_writes(again_when_lost=True)
def _recover(slots: dict[int, journal.Slot]) -> tuple[list[SendRecord], list[journal.Slot]]:
    recovered, done = [], []
    with write_transaction():
        sending = {record.id: record for record in SendRecord.select().where(SendRecord.status == SendStatus.SENDING)}
        for record_id, held in slots.items():
            if record_id not in sending or not _matches(held, sending[record_id]):
                done.append(held)  # the database already holds its outcome
        for record in sending.values():
            slot = slots.get(record.id)
            slot = slot if slot is not None and _matches(slot, record) else None
            if not _abandoned(record, slot):
                continue
            status = slot.content.get("status") if slot is not None else None
            if slot is not None and status in (SendStatus.SENT, SendStatus.PARTIAL, SendStatus.FAILED,
                                               SendStatus.UNKNOWN):
                refused = slot.content.get("refused") or {}
                error = slot.content.get("error") or (None if status == SendStatus.SENT else _FROM_JOURNAL)
                outbox.complete(record.id, status, reply=slot.content.get("reply") or "", error=error,
                         refused=refused if isinstance(refused, dict) else {})
            elif slot is not None and status == SendStatus.QUEUED:  # not delivered: back to the queue
                SendRecord.update(
                    status=SendStatus.QUEUED, claimed_by=None, error=slot.content.get("error"),
                    last_reply=slot.content.get("reply") or None,
                ).where((SendRecord.id == record.id) & (SendRecord.status == SendStatus.SENDING)).execute()
            else:
                SendRecord.update(
                    status=SendStatus.UNKNOWN, finished_at=utcnow(), claimed_by=None, error=_INTERRUPTED,
                ).where((SendRecord.id == record.id) & (SendRecord.status == SendStatus.SENDING)).execute()
            if slot is not None:
                done.append(slot)
            updated = SendRecord.get_by_id(record.id)
            if updated.status == SendStatus.UNKNOWN:
                recovered.append(updated)
    return recovered, done


@wait_for_writes(again_when_lost=True)
def requeue_own_unstarted() -> int:
    """Back to the queue: the records this process claimed but never tried to reserve a
    journal slot for (the database lost the connection right after the claim), so never
    handed over. Only between two batches of this process (the sender service's loop): inside
    one, a record is slotless for a moment between its claim and its slot."""
    mine = [record.id for record in SendRecord.select(SendRecord.id, SendRecord.message_id).where(
        (SendRecord.status == SendStatus.SENDING) & (SendRecord.claimed_by == outbox.process_tag()))
        if not journal.tried_here(record.id, record.message_id or "") and not journal.in_flight(record.id)]
    if not mine:
        return 0
    return SendRecord.update(status=SendStatus.QUEUED, claimed_by=None).where(
        SendRecord.id.in_(mine) & (SendRecord.status == SendStatus.SENDING)
        & (SendRecord.claimed_by == outbox.process_tag())).execute()


def recover_interrupted() -> list[SendRecord]:
    """Settle the ``sending`` records nobody works on any more: the outcome kept in
    the send journal when there is one (a delivered invoice is then stamped as
    mailed), ``unknown`` otherwise. Returns those that became ``unknown``."""
    slots = journal.pending()
    sending = list(SendRecord.select().where(SendRecord.status == SendStatus.SENDING))
    by_id = {record.id: record for record in sending}
    stale = any(record_id not in by_id or not _matches(slot, by_id[record_id]) for record_id, slot in slots.items())
    if not stale and not any(_abandoned(record, slots.get(record.id)) for record in sending):
        return []  # nothing to settle: no write (another workstation may be sending)
    recovered, done = _recover(slots)
    for slot in done:
        slot.discard()
    return recovered


def resolve_unknown(record_id: int, *, delivered: bool, operator: str) -> int | None:
    """The operator's decision on an ``unknown`` record.

    ``delivered``: it did arrive (checked in the sent folder, say): it becomes
    ``sent``. Otherwise it is closed as ``failed`` and a new record is queued;
    returns the new record's id.
    """
    with write_transaction():
        record = SendRecord.get_by_id(record_id)
        if record.status != SendStatus.UNKNOWN:
            return None
        note = f"État inconnu ; décision de {operator} le {utcnow():%d/%m/%Y %H:%M} UTC : "
        if delivered:
            outbox.complete(record_id, SendStatus.SENT, reply=record.last_reply or "", error=note + "marqué comme envoyé.",
                     expect=SendStatus.UNKNOWN)
            return None
        SendRecord.update(status=SendStatus.FAILED, error=note + "renvoi demandé.").where(
            SendRecord.id == record_id
        ).execute()
        new = SendRecord.create(invoice=record.invoice_id, recipients=record.recipients, operator=operator,
                                batch=outbox.new_batch_id())
        return new.id
