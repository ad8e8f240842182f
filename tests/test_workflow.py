"""The one send workflow (plan, queue, run, summary), driven directly: a real SQLite file,
a real SMTP server on loopback, a few invoices."""

from __future__ import annotations

import collections
from datetime import UTC, datetime

import pytest

from tests.conftest import point_at
from tests.smtp_server import USERNAME
from tuiapp.db.models import Invoice, SendRecord, SendStatus
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.periods import Period
from tuiapp.mail import secrets
from tuiapp.sending import events as ev
from tuiapp.sending import outbox, workflow
from tuiapp.sending.engine import StopRequest
from tuiapp.sending.workflow import Reason

SEPTEMBER = Period(2024, 9)


@pytest.fixture
def office(database, structure, make_resident, make_invoice, server):
    """Six residents with an address (one has left, with two addresses), one without; an invoice each
    in September; the association pointed at the test server, its password in the keyring."""
    point_at(server)
    invoices = {}
    for name in ("ALBERT", "BLANC", "COLIN", "DUPUIS", "ETIENNE"):
        invoices[name] = make_invoice(make_resident(name, "Anne", email=f"{name.lower()}@example.org"))
    invoices["FAURE"] = make_invoice(make_resident("FAURE", "Paul", email="paul@example.org",
                                                   guardian_email="tuteur@example.org", active=False))
    invoices["GIRARD"] = make_invoice(make_resident("GIRARD", "Luc"))  # no address
    return invoices


class Log(list):
    """The events of a send, as the front ends get them."""

    def of(self, kind) -> list:
        return [event for event in self if isinstance(event, kind)]


def send(plan, stop=None, log=None, **options) -> workflow.Outcome:
    log = Log() if log is None else log
    options.setdefault("retry_delays", (0.05,))
    return workflow.send(plan, stop=stop or StopRequest(), on_event=log.append, operator="marie", **options)


def delivered(server) -> collections.Counter:
    return collections.Counter(next(r.message.iter_attachments()).get_filename().split("_")[1]
                               for r in server.received)


def status_of(invoice) -> str | None:
    record = SendRecord.select().where(SendRecord.invoice == invoice.id).order_by(SendRecord.id.desc()).first()
    return record.status if record else None


def mark_mailed(invoice) -> None:
    Invoice.update(last_mailed_at=datetime(2024, 10, 1, tzinfo=UTC)).where(Invoice.id == invoice.id).execute()


def left_unknown(invoice) -> int:
    """A send of this invoice interrupted on a workstation that died: its fate is unknown."""
    record_id = outbox.queue_invoices([invoice.id], operator="paul").record_ids[0]
    outbox.claim(record_id, operator="paul", message_id="<u@example.org>")
    SendRecord.update(claimed_by="elsewhere:1:1", started_at=datetime(2024, 1, 1, tzinfo=UTC)).where(
        SendRecord.id == record_id).execute()
    assert [record.id for record in workflow.recover()] == [record_id]
    return record_id


def in_flight_elsewhere(invoice) -> int:
    """Another process of this machine, alive, is sending this invoice (here: this test's own claim)."""
    record_id = outbox.queue_invoices([invoice.id], operator="paul", batch="paul").record_ids[0]
    assert outbox.claim(record_id, operator="paul", message_id="<p@example.org>")
    return record_id


def test_the_plan_says_what_is_sent_and_why_the_rest_is_not(office):
    mark_mailed(office["ALBERT"])
    unknown = left_unknown(office["BLANC"])
    in_flight_elsewhere(office["COLIN"])
    waiting = outbox.queue_invoices([office["DUPUIS"].id], operator="paul").record_ids[0]  # left by a stopped run
    plan = workflow.plan(SEPTEMBER)
    assert [(item.row.number, item.resend, item.resumed) for item in plan.items] == [
        (office["DUPUIS"].number, False, waiting),  # taken up, not queued again
        (office["ETIENNE"].number, False, None),
        (office["FAURE"].number, False, None),  # has left: mailed all the same
    ]
    reasons = {item.number: (item.reason, item.record_id) for item in plan.left_out}
    assert reasons == {
        office["ALBERT"].number: (Reason.ALREADY_SENT, None),
        office["BLANC"].number: (Reason.UNKNOWN, unknown),
        office["COLIN"].number: (Reason.ELSEWHERE, reasons[office["COLIN"].number][1]),
        office["GIRARD"].number: (Reason.NO_ADDRESS, None),
    }
    assert plan.question() == ("Envoyer 3 factures à 4 adresses ?\n"
                               "Sur ces 3 factures, 1 reprend un envoi resté en attente.")  # one count, singular
    lines = dict(workflow.left_out_lines(plan.left_out))
    assert lines[Reason.UNKNOWN] == (f"Facture {office['BLANC'].number} (BLANC Anne) : l'envoi n° {unknown} est à "
                                     "l'état inconnu, elle n'est pas renvoyée sans votre décision.")
    assert lines[Reason.NO_ADDRESS] == "1 facture sans adresse e-mail : à imprimer."
    faure = next(item for item in plan.items if item.row.number == office["FAURE"].number)
    assert faure.row.resident + ", sorti(e)" == "FAURE Paul, sorti(e)" and not faure.row.active
    again = workflow.plan(SEPTEMBER, include_sent=True)
    resent = [item for item in again.items if item.resend]
    assert [item.row.number for item in resent] == [office["ALBERT"].number]
    assert "Sur ces 4 factures, 1 a déjà été envoyée et part une nouvelle fois." in again.question()


def test_a_send_delivers_the_plan_once_each_and_says_so(office, server):
    waiting = outbox.queue_invoices([office["DUPUIS"].id], operator="paul").record_ids[0]
    plan = workflow.plan(SEPTEMBER)
    log = Log()
    outcome = send(plan, log=log)
    assert delivered(server) == collections.Counter(
        invoice.number for name, invoice in office.items() if name != "GIRARD")
    assert outcome.complete and outcome.finished.sent == 6 and outcome.left_out == plan.left_out
    queued = log.of(workflow.Queued)[0]
    assert log[0] is queued and waiting in queued.record_ids and len(queued.record_ids) == 6
    assert SendRecord.select().where(SendRecord.batch == queued.batch).count() == 5  # one batch, one transaction
    assert SendRecord.get_by_id(waiting).status == SendStatus.SENT  # taken up, not queued a second time
    assert SendRecord.select().where(SendRecord.invoice == office["DUPUIS"].id).count() == 1
    lines = [line for event in log for line in workflow.describe(event)]
    assert lines[-1] == "Envoi terminé : 6 envoyées."
    assert not any(line.startswith("Début de l'envoi") for line in lines)  # only moves the progress
    assert workflow.plan(SEPTEMBER).items == []  # nothing left to send


def test_no_password_is_refused_before_anything_is_queued(office, server):
    secrets.delete_password("127.0.0.1", USERNAME)
    log = Log()
    with pytest.raises(workflow.NotReady) as refused:
        send(workflow.plan(SEPTEMBER), log=log)
    assert "Aucun mot de passe SMTP enregistré" in str(refused.value) and isinstance(refused.value, TuiappError)
    assert SendRecord.select().count() == 0 and server.received == [] and log == []


def stop_after_first(stop: StopRequest, how: str, log: Log):
    """An event sink that asks to stop as soon as the first invoice is sent (as the operator would)."""

    def on_event(event) -> None:
        log.append(event)
        if isinstance(event, ev.InvoiceSent) and not stop.is_set():
            getattr(stop, how)()

    return on_event


def test_the_operators_cancel_withdraws_what_is_not_sent(office, server):
    log, stop = Log(), StopRequest()
    outcome = workflow.send(workflow.plan(SEPTEMBER), stop=stop, on_event=stop_after_first(stop, "cancel", log),
                            operator="marie")
    assert len(server.received) == 1 and outcome.finished.cancelled and not outcome.complete
    assert outcome.withdrawn == 5 and log.of(workflow.Withdrawn) == [workflow.Withdrawn(5)]
    assert workflow.describe(log.of(workflow.Withdrawn)[0]) == [
        "5 factures non envoyées retirées de la file d'attente."]
    assert SendRecord.select().where(SendRecord.status.in_(SendStatus.active())).count() == 0
    assert len(workflow.plan(SEPTEMBER).items) == 5  # withdrawn, not lost: a later send may take them


def test_an_interruption_keeps_the_rest_queued_and_the_next_send_takes_it_up(office, server):
    log, stop = Log(), StopRequest()
    outcome = workflow.send(workflow.plan(SEPTEMBER), stop=stop, on_event=stop_after_first(stop, "set", log),
                            operator="marie")
    assert len(server.received) == 1 and outcome.finished.interrupted and outcome.withdrawn == 0
    assert not log.of(workflow.Withdrawn)
    waiting = outbox.queued_record_ids(SEPTEMBER)
    assert len(waiting) == 5
    plan = workflow.plan(SEPTEMBER)
    assert sorted(item.resumed for item in plan.items) == waiting
    assert send(plan).complete
    assert delivered(server) == collections.Counter(
        invoice.number for name, invoice in office.items() if name != "GIRARD")  # each once
    assert SendRecord.select().count() == 6  # the waiting records were sent, none queued twice


def test_a_stop_keeps_the_rest_queued(office, server):
    server.faults.quota_after = 2
    outcome = send(workflow.plan(SEPTEMBER))
    assert outcome.finished.stopped is not None and outcome.withdrawn == 0
    assert len(outbox.queued_record_ids(SEPTEMBER)) == 4


def test_already_sent_is_resent_only_on_purpose(office, server):
    mark_mailed(office["ALBERT"])
    outcome = send(workflow.plan(SEPTEMBER, include_sent=True))
    assert outcome.complete and delivered(server)[office["ALBERT"].number] == 1
    server.received.clear()
    assert send(workflow.plan(SEPTEMBER)).finished.sent == 0 and server.received == []


def test_mailed_meanwhile_elsewhere_is_not_sent_again(office, server):
    plan = workflow.plan(SEPTEMBER)
    mark_mailed(office["ETIENNE"])  # another workstation sent it after the plan was made
    log = Log()
    outcome = send(plan, log=log)
    assert office["ETIENNE"].number not in delivered(server) and outcome.finished.sent == 5
    assert [(item.number, item.reason) for item in log.of(workflow.Queued)[0].left_out] == [
        (office["ETIENNE"].number, Reason.ALREADY_SENT)]
    assert "1 facture déjà envoyée : pas renvoyée." in workflow.describe(log.of(workflow.Queued)[0])


def test_an_unknown_send_waits_for_a_decision(office, server):
    unknown = left_unknown(office["BLANC"])
    outcome = send(workflow.plan(SEPTEMBER))
    assert office["BLANC"].number not in delivered(server)
    assert outcome.finished.all_sent and not outcome.complete  # a decision is still needed
    assert workflow.resolve(unknown, delivered=False, operator="marie")  # it did not leave: send it again
    plan = workflow.plan(SEPTEMBER)
    assert [item.row.number for item in plan.items] == [office["BLANC"].number]
    assert send(plan).complete and delivered(server)[office["BLANC"].number] == 1


def test_another_processs_claim_is_never_doubled(office, server):
    plan = workflow.plan(SEPTEMBER)
    in_flight_elsewhere(office["ALBERT"])  # claimed after the plan: found when queuing
    waiting = outbox.queue_invoices([office["COLIN"].id], operator="paul").record_ids[0]
    taken_up = workflow.plan(SEPTEMBER)
    assert outbox.claim(waiting, operator="paul", message_id="<c@example.org>")  # taken first by the other
    log = Log()
    outcome = send(plan, log=log)
    assert [(item.number, item.reason) for item in outcome.left_out] == [
        (office["GIRARD"].number, Reason.NO_ADDRESS), (office["ALBERT"].number, Reason.ELSEWHERE),
        (office["COLIN"].number, Reason.ELSEWHERE)]
    assert delivered(server).keys() == {office[name].number for name in ("BLANC", "DUPUIS", "ETIENNE", "FAURE")}
    server.received.clear()
    log = Log()
    send(taken_up, log=log)  # its plan takes up the waiting record, which the other claimed meanwhile
    assert [event.invoice.number for event in log.of(ev.InvoiceSkipped)] == [office["COLIN"].number]
    assert server.received == []
