"""The outbox's compare-and-set writes, on a real SQLite file (no server)."""

from __future__ import annotations

import threading
from datetime import UTC

from tuiapp.db.models import Invoice, SendRecord, SendStatus
from tuiapp.sending import outbox, recovery


def queued(make_resident, make_invoice, count=1) -> list[int]:
    invoices = [make_invoice(make_resident(last_name=f"NOM{index}", email=f"r{index}@example.org"))
                for index in range(count)]
    return outbox.queue_invoices([invoice.id for invoice in invoices], operator="marie").record_ids


def test_a_claim_takes_a_queued_record_once(make_resident, make_invoice):
    (record_id,) = queued(make_resident, make_invoice)
    assert outbox.claim(record_id, operator="paul", message_id="<1@example.org>")
    record = SendRecord.get_by_id(record_id)
    assert (record.status, record.operator, record.attempts) == (SendStatus.SENDING, "paul", 1)
    assert record.claimed_by == outbox.process_tag() and record.message_id == "<1@example.org>"
    assert record.started_at.tzinfo is not None and record.error is None
    assert not outbox.claim(record_id, operator="marie", message_id="<2@example.org>")  # already taken
    record = SendRecord.get_by_id(record_id)
    assert (record.operator, record.attempts, record.message_id) == ("paul", 1, "<1@example.org>")


def test_a_released_record_is_claimed_again_with_its_attempts_counted(make_resident, make_invoice):
    (record_id,) = queued(make_resident, make_invoice)
    outbox.claim(record_id, operator="paul", message_id="<1@example.org>")
    outbox.release(record_id, error="arrêt")
    assert SendRecord.get_by_id(record_id).error == "arrêt"
    assert outbox.claim(record_id, operator="paul", message_id="<2@example.org>")
    record = SendRecord.get_by_id(record_id)
    assert (record.attempts, record.message_id, record.error) == (2, "<2@example.org>", None)


def test_of_simultaneous_claims_exactly_one_wins(make_resident, make_invoice):
    """Each thread has its own SQLite connection, as another process would."""
    (record_id,) = queued(make_resident, make_invoice)
    start, results = threading.Barrier(6), []

    def claim(index: int) -> None:
        start.wait()
        results.append(outbox.claim(record_id, operator=f"op{index}", message_id=f"<{index}@example.org>"))

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert SendRecord.get_by_id(record_id).attempts == 1


def test_a_delivery_is_completed_and_stamps_its_invoice(make_resident, make_invoice):
    first, second = queued(make_resident, make_invoice, count=2)
    for record_id in (first, second):
        outbox.claim(record_id, operator="paul", message_id="<x@example.org>")
    assert outbox.complete(first, SendStatus.PARTIAL, reply="250 ok", refused={"a@example.org": "550 inconnu"})
    assert outbox.complete(second, SendStatus.FAILED, reply="554 refusé", error="Message refusé")
    partial, failed = SendRecord.get_by_id(first), SendRecord.get_by_id(second)
    assert (partial.status, partial.last_reply, partial.refused_recipients, partial.claimed_by) == (
        SendStatus.PARTIAL, "250 ok", "a@example.org : 550 inconnu", None)
    assert (failed.status, failed.error, failed.refused_recipients) == (SendStatus.FAILED, "Message refusé", None)
    assert partial.finished_at.tzinfo is not None
    stamped = Invoice.get_by_id(partial.invoice_id).last_mailed_at
    assert stamped == partial.finished_at and stamped.utcoffset() == UTC.utcoffset(None)
    assert Invoice.get_by_id(failed.invoice_id).last_mailed_at is None  # a failure is not a mailing


def test_a_completion_in_the_wrong_state_changes_nothing(make_resident, make_invoice):
    (record_id,) = queued(make_resident, make_invoice)
    assert not outbox.complete(record_id, SendStatus.SENT, reply="250 ok")  # still queued, never claimed
    record = SendRecord.get_by_id(record_id)
    assert (record.status, record.last_reply, record.finished_at) == (SendStatus.QUEUED, None, None)
    assert Invoice.get_by_id(record.invoice_id).last_mailed_at is None
    outbox.claim(record_id, operator="paul", message_id="<1@example.org>")
    assert outbox.complete(record_id, SendStatus.UNKNOWN, error="coupure")
    assert not outbox.complete(record_id, SendStatus.SENT, reply="250 ok")  # expects "sending"
    assert outbox.complete(record_id, SendStatus.SENT, reply="250 ok", expect=SendStatus.UNKNOWN)
    assert SendRecord.get_by_id(record_id).status == SendStatus.SENT


def test_a_record_another_machines_service_left_sending_is_judged_by_that_services_heartbeat(
        make_resident, make_invoice, monkeypatch):
    """On a base shared by several servers (PostgreSQL), a record claimed by server B's service is
    left alone while B's heartbeat is fresh, and becomes "unknown" once it is stale (B crashed),
    without waiting for the hour's lease; a beat of this machine's service does not speak for B."""
    import json
    from datetime import timedelta

    from tuiapp.db import heartbeat
    from tuiapp.db.fields import utcnow
    from tuiapp.db.models import Metadata

    monkeypatch.setenv("TUIAPP_HEARTBEAT_STALE", "2")
    record_id = outbox.queue_invoices([make_invoice(make_resident(email="a@example.org")).id], operator="marie").record_ids[0]
    service_b = "serveur-b:4242:99"
    SendRecord.update(status=SendStatus.SENDING, claimed_by=service_b, started_at=utcnow()).where(
        SendRecord.id == record_id).execute()

    def b_beats(seconds_ago: float) -> None:
        at = (utcnow() - timedelta(seconds=seconds_ago)).isoformat()
        Metadata.insert(key=heartbeat.host_key("serveur-b"),
                        value=json.dumps({"at": at, "process": service_b, "state": "sending"})).on_conflict(
            conflict_target=[Metadata.key], preserve=[Metadata.value]).execute()

    heartbeat.beat(outbox.process_tag(), "idle")  # this machine's service, alive: says nothing of B
    b_beats(0.5)
    assert recovery.recover_interrupted() == []
    assert SendRecord.get_by_id(record_id).status == SendStatus.SENDING
    b_beats(10)  # B stopped beating
    assert [record.id for record in recovery.recover_interrupted()] == [record_id]
    assert SendRecord.get_by_id(record_id).status == SendStatus.UNKNOWN
    assert heartbeat.of_host("serveur-b").process == service_b and heartbeat.last().state == "idle"


def test_a_slot_that_says_not_delivered_puts_its_record_back_in_the_queue(make_resident, make_invoice):
    """The engine writes "not delivered" into the slot before it releases the record: should the
    database not take the release (its server gone), the recovery queues it again, never
    "unknown, maybe sent"."""
    from tuiapp.sending import journal

    record_id = outbox.queue_invoices([make_invoice(make_resident(email="a@example.org")).id],
                                      operator="marie").record_ids[0]
    assert outbox.claim(record_id, operator=None, message_id="<1@example.org>")
    slot = journal.reserve(record_id, message_id="<1@example.org>", claimed_by=outbox.process_tag())
    slot.record(SendStatus.QUEUED, reply="451 4.3.0 plus tard", error="Reportée par le serveur.")
    slot.sync()
    slot.keep()  # the release could not be written
    assert recovery.recover_interrupted() == []
    record = SendRecord.get_by_id(record_id)
    assert (record.status, record.claimed_by, record.last_reply) == (SendStatus.QUEUED, None, "451 4.3.0 plus tard")
    assert journal.pending() == {}


def test_this_processes_claims_without_a_slot_go_back_to_the_queue_between_batches(make_resident, make_invoice):
    """A claim done whose answer was lost (the connection dropped at its COMMIT) and the batch
    stopped before the slot: never handed over, so queued again; a slotted one is the recovery's."""
    from tuiapp.sending import journal

    ids = outbox.queue_invoices([make_invoice(make_resident(email=f"{n}@example.org")).id for n in "ab"],
                                operator="marie").record_ids
    for number, record_id in enumerate(ids):
        assert outbox.claim(record_id, operator=None, message_id=f"<{number}@example.org>")
    journal.reserve(ids[1], message_id="<1@example.org>", claimed_by=outbox.process_tag()).keep()
    other = outbox.queue_invoices([make_invoice(make_resident(email="c@example.org")).id], operator="paul").record_ids
    SendRecord.update(status=SendStatus.SENDING, claimed_by="ailleurs:1:1").where(SendRecord.id == other[0]).execute()
    assert recovery.requeue_own_unstarted() == 1
    assert [SendRecord.get_by_id(i).status for i in (*ids, *other)] == [SendStatus.QUEUED, SendStatus.SENDING,
                                                                        SendStatus.SENDING]
