"""The send engine against a real SMTP server on loopback (STARTTLS, AUTH, faults)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pymupdf
import pytest

from tests.smtp_server import PASSWORD, USERNAME, SmtpTestServer, free_port
from tuiapp.db import queries
from tuiapp.db.models import Association, Invoice, Resident, SendRecord, SendStatus
from tuiapp.domain.formatting import format_amount
from tuiapp.domain.periods import Period
from tuiapp.mail import secrets
from tuiapp.mail.authenticators import authenticator_for
from tuiapp.mail.problems import (
    AuthenticationFailed,
    CertificateRejected,
    InsecureAuthRefused,
    QuotaExceeded,
    SenderRefused,
    ServerUnreachable,
    SmtpProblem,
    TlsUnavailable,
)
from tuiapp.mail.smtp_client import SmtpConnection, SmtpSettings
from tuiapp.sending import events as ev
from tuiapp.sending import outbox, recovery, wording
from tuiapp.sending.engine import SendEngine

SEPTEMBER = Period(2024, 9)


@pytest.fixture
def mail_db(demo_db, server):
    """The demo database pointed at the test server, the password in the keyring."""
    association = Association.get_solo()
    association.smtp_host = "127.0.0.1"
    association.smtp_port = server.port
    association.smtp_security = "starttls"
    association.smtp_username = USERNAME
    association.smtp_ca_file = str(server.ca_file)
    association.smtp_rate_per_minute = 0
    association.save()
    secrets.set_password("127.0.0.1", USERNAME, PASSWORD)
    return demo_db


def settings(**changes) -> SmtpSettings:
    base = SmtpSettings.from_association(Association.get_solo())
    return SmtpSettings(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})


class FakeClock:
    """Time that passes only when the engine waits (pacing, retry delays): no real sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False  # nobody asks the batch to stop


def send(invoices, *, engine_settings=None, clock=None, **engine_options):
    """Queue these invoices and run the engine on a fake clock (waits take no real time);
    returns (summary, events). ``clock.sent`` gets the fake time of each message sent."""
    events: list = []
    clock = clock or FakeClock()
    clock.sent = []

    def on_event(event):
        events.append(event)
        if isinstance(event, ev.InvoiceSent):
            clock.sent.append(clock())

    queued = outbox.queue_invoices([invoice.id for invoice in invoices], operator="marie")
    engine_settings = engine_settings or settings()
    engine = SendEngine(engine_settings, authenticator_for(engine_settings), operator="marie",
                        on_event=on_event, clock=clock, wait=clock.wait, **engine_options)
    summary = engine.run(queued.record_ids, batch=queued.batch)
    return summary, events


def september(count=None):
    invoices = list(queries.invoices_to_mail(SEPTEMBER))
    return invoices[:count] if count else invoices


def statuses():
    return sorted(record.status for record in SendRecord.select().where(SendRecord.operator == "marie"))


def test_a_batch_of_20_arrives_complete(mail_db, server):
    invoices = september(20)
    summary, events = send(invoices)
    assert summary.sent == 20 and summary.all_sent
    assert len(server.received) == 20
    by_number = {invoice.number: invoice for invoice in invoices}
    for received in server.received:
        message = received.message
        attachment = next(part for part in message.iter_attachments())
        number = attachment.get_filename().split("_")[1]
        invoice = by_number.pop(number)
        resident = invoice.resident
        assert received.mail_from == invoice.structure.sender_email
        assert sorted(received.rcpt_tos) == sorted(resident.recipients)
        assert message["Subject"] == f"Votre facture de contribution de septembre 2024 - {resident.display_name}"
        body = message.get_body(("plain",)).get_content()
        of = "d'" if resident.display_name[0] in "AEIOUYÉ" else "de "
        assert f"Vous trouverez ci-joint la facture {of}{resident.display_name} pour la période de septembre 2024" in body
        assert attachment.get_content_type() == "application/pdf"
        text = pymupdf.open(stream=attachment.get_content(), filetype="pdf")[0].get_text()
        assert invoice.number in text and resident.last_name.upper() in text
        assert format_amount(invoice.amount_ht).replace("\u00a0", " ") in text.replace("\u00a0", " ")
        record = SendRecord.get(SendRecord.invoice == invoice)
        assert record.status == SendStatus.SENT and record.message_id == message["Message-ID"]
        assert record.last_reply.startswith("250") and record.operator == "marie" and record.attempts == 1
        assert Invoice.get_by_id(invoice.id).last_mailed_at is not None
    assert not by_number
    lines = [wording.describe(event) for event in events]
    assert lines[-1] == "Envoi terminé : 20 envoyées."


def test_untrusted_certificate(mail_db, server):
    summary, events = send(september(3), engine_settings=settings(ca_file=None))
    assert isinstance(summary.stopped, CertificateRejected)
    assert "Certificat non reconnu" in str(summary.stopped)
    assert server.received == [] and statuses() == ["queued"] * 3
    assert Invoice.select().where(Invoice.last_mailed_at.is_null(False), Invoice.period_month == 9).count() == 0


def test_wrong_password(mail_db, server):
    secrets.set_password("127.0.0.1", USERNAME, "not-the-password")
    summary, events = send(september(3))
    assert isinstance(summary.stopped, AuthenticationFailed)
    assert str(summary.stopped).startswith("Mot de passe refusé par le serveur (535)")
    assert any(isinstance(e, ev.BatchStopped) for e in events)
    assert server.received == [] and statuses() == ["queued"] * 3


def test_server_down(mail_db):
    summary, events = send(september(2), engine_settings=settings(port=free_port()), max_tries=2)
    assert isinstance(summary.stopped, ServerUnreachable)
    assert "Serveur injoignable" in str(summary.stopped)
    assert sum(isinstance(e, ev.RetryScheduled) for e in events) == 1
    assert statuses() == ["queued"] * 2


def test_transient_451_then_success(mail_db, server):
    server.faults.data_replies = ["451 4.3.0 Temporary server error, try again later"]
    summary, events = send(september(3))
    assert summary.sent == 3
    assert len(server.received) == 3  # the refused attempt left nothing behind
    assert len({r.message["Message-ID"] for r in server.received}) == 3
    retry = next(e for e in events if isinstance(e, ev.RetryScheduled))
    assert retry.problem.code == 451 and retry.invoice.number == september(1)[0].number
    assert SendRecord.select().where(SendRecord.operator == "marie", SendRecord.attempts == 1).count() == 3


def test_connection_dropped_mid_batch(mail_db, server):
    server.faults.drop_on_mail = {4}
    summary, _ = send(september(8))
    assert summary.sent == 8
    numbers = [r.message.get_payload()[1].get_filename().split("_")[1] for r in server.received]
    assert sorted(numbers) == sorted(i.number for i in september(8))  # each exactly once


def test_one_recipient_refused_is_partial(mail_db, server):
    invoice = next(i for i in september() if len(i.resident.recipients) == 2)
    refused = invoice.resident.guardian_email.lower()
    server.faults.refuse_recipients = {refused}
    summary, events = send([invoice])
    assert summary.partial == 1 and not summary.all_sent
    record = SendRecord.get(SendRecord.invoice == invoice)
    assert record.status == SendStatus.PARTIAL
    assert refused in record.refused_recipients.lower() and "550 5.1.1" in record.refused_recipients
    assert server.received[0].rcpt_tos == [invoice.resident.email]
    assert "envoi partiel" in wording.describe(next(e for e in events if isinstance(e, ev.InvoicePartial)))


def test_quota_stops_the_batch_and_the_rest_can_be_resumed(mail_db, server):
    server.faults.quota_after = 4
    invoices = september(10)
    summary, events = send(invoices)
    assert isinstance(summary.stopped, QuotaExceeded)
    assert summary.sent == 4 and summary.remaining == 6
    assert "Limite d'envoi" in str(summary.stopped)
    assert statuses().count("queued") == 6
    server.faults.quota_after = None
    engine = SendEngine(settings(), authenticator_for(settings()), operator="marie")
    resumed = engine.run(outbox.queued_record_ids(SEPTEMBER))
    assert resumed.sent == 6
    assert len(server.received) == 10
    assert statuses() == ["sent"] * 10


def test_sender_refused_stops_the_batch(mail_db, server):
    server.faults.sender_refused = "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
    summary, _ = send(september(3))
    assert isinstance(summary.stopped, SenderRefused)
    assert "5.7.60" in str(summary.stopped)
    assert statuses() == ["queued"] * 3


def test_a_refused_message_fails_alone(mail_db, server):
    server.faults.data_replies = ["550 5.6.0 Content rejected"]
    summary, events = send(september(3))
    assert (summary.failed, summary.sent) == (1, 2)
    failed = SendRecord.get(SendRecord.status == SendStatus.FAILED)
    assert "550 5.6.0 Content rejected" in failed.last_reply and "Message refusé" in failed.error


def test_a_pdf_that_cannot_be_rendered_fails_alone(mail_db, server, monkeypatch):
    from tuiapp.sending import message

    invoices = september(3)
    render = message.invoice_pdf

    def fragile(doc):
        if doc.number == invoices[1].number:
            raise RuntimeError("code=2: cannot load font")
        return render(doc)

    monkeypatch.setattr(message, "invoice_pdf", fragile)
    summary, events = send(invoices)
    assert (summary.failed, summary.sent) == (1, 2)
    failed = SendRecord.get(SendRecord.status == SendStatus.FAILED)
    assert failed.invoice_id == invoices[1].id
    assert failed.error == "PDF impossible à produire (RuntimeError)."
    assert len(server.received) == 2
    logged = [wording.describe(event) for event in events if isinstance(event, ev.InvoiceFailed)]
    assert logged == [f"{invoices[1].resident.display_name} (facture {invoices[1].number}) : échec. "
                      "PDF impossible à produire (RuntimeError)."]


def test_reply_lost_after_the_message_is_unknown_and_not_resent(mail_db, server):
    server.faults.drop_after_data = {2}
    summary, events = send(september(4))
    assert (summary.sent, summary.unknown) == (3, 1)
    assert len(server.received) == 4  # the uncertain one did arrive, and was sent only once
    unknown = SendRecord.get(SendRecord.status == SendStatus.UNKNOWN)
    again = outbox.queue_invoices([unknown.invoice_id], operator="marie")
    assert again.record_ids == [] and again.unknown == [unknown.invoice_id]


def test_a_garbled_reply_to_the_final_dot_is_unknown_and_not_resent(mail_db, server):
    """The server took the message but its reply cannot be read (smtplib's -1): it may have
    arrived; never sent again as a transient failure would be."""
    server.faults.data_replies = ["OK, queued as 12345"]  # no code
    summary, events = send(september(3))
    assert (summary.sent, summary.unknown) == (2, 1)
    assert len(server.received) == 2  # the one with the garbled reply never handed over again
    unknown = SendRecord.get(SendRecord.status == SendStatus.UNKNOWN)
    assert "peut-être arrivé" in unknown.error


def never_more_than(rate, window, times):
    for index, start in enumerate(times):
        assert sum(1 for t in times[index:] if t - start < window) <= rate, (start, times)


def test_pacing_never_exceeds_the_rate_in_any_window(mail_db, server):
    rate, window = 3, 60.0
    started, clock = time.monotonic(), FakeClock()
    summary, events = send(september(7), engine_settings=settings(rate_per_minute=rate), clock=clock)
    assert summary.sent == 7 and len(server.received) == 7
    never_more_than(rate, window, clock.sent)
    assert any(isinstance(e, ev.PacingWait) for e in events)
    assert clock.sent[-1] - clock.sent[0] == 2 * window  # 7 messages at 3 per window need 3 windows
    assert time.monotonic() - started < window  # the waits took no real time


def test_cancel_between_two_messages(mail_db, server):
    cancel = threading.Event()
    events: list = []

    def on_event(event):
        events.append(event)
        if isinstance(event, ev.InvoiceSent):
            cancel.set()

    queued = outbox.queue_invoices([i.id for i in september(5)], operator="marie")
    engine = SendEngine(settings(), authenticator_for(settings()), operator="marie", on_event=on_event,
                        cancel=cancel)
    summary = engine.run(queued.record_ids)
    assert summary.interrupted and not summary.cancelled and summary.sent == 1 and summary.remaining == 4
    assert len(server.received) == 1 and statuses().count("queued") == 4


def test_two_engines_on_the_same_records_send_each_once(mail_db, server):
    queued = outbox.queue_invoices([i.id for i in september(12)], operator="marie")
    results = []

    def worker():
        engine = SendEngine(settings(), authenticator_for(settings()), operator="marie")
        results.append(engine.run(queued.record_ids))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in results) == 12 and sum(r.skipped for r in results) == 12
    assert len(server.received) == 12


def test_queueing_twice_does_not_duplicate(mail_db):
    ids = [i.id for i in september(3)]
    first = outbox.queue_invoices(ids, operator="marie")
    second = outbox.queue_invoices(ids, operator="paul")
    assert len(first.record_ids) == 3 and second.record_ids == [] and second.already_active == ids


def test_interrupted_send_becomes_unknown_only_if_its_process_died(mail_db):
    ids = [i.id for i in september(2)]
    queued = outbox.queue_invoices(ids, operator="marie")
    dead, alive = queued.record_ids
    assert outbox.claim(dead, operator="marie", message_id="<1@example.org>")
    assert outbox.claim(alive, operator="marie", message_id="<2@example.org>")
    SendRecord.update(claimed_by=f"{outbox.socket.gethostname()}:999999999:1").where(SendRecord.id == dead).execute()
    recovered = recovery.recover_interrupted()
    assert [r.id for r in recovered] == [dead]
    assert SendRecord.get_by_id(dead).status == SendStatus.UNKNOWN
    assert SendRecord.get_by_id(alive).status == SendStatus.SENDING  # our own process is alive


def test_resolving_an_unknown_record(mail_db):
    invoice = september(1)[0]
    record_id = outbox.queue_invoices([invoice.id], operator="marie").record_ids[0]
    outbox.claim(record_id, operator="marie", message_id="<1@example.org>")
    outbox.complete(record_id, SendStatus.UNKNOWN, error="coupure")
    new_id = recovery.resolve_unknown(record_id, delivered=False, operator="paul")
    assert SendRecord.get_by_id(new_id).status == SendStatus.QUEUED
    assert SendRecord.get_by_id(record_id).status == SendStatus.FAILED


def test_the_password_is_nowhere_in_the_database(mail_db, server):
    secrets.set_password("127.0.0.1", USERNAME, "not-the-password")
    send(september(2))  # fails: the reply and error are recorded
    secrets.set_password("127.0.0.1", USERNAME, PASSWORD)
    send(september()[2:4])
    from tests.raw import every_value
    from tuiapp.db.database import db, is_postgres

    if is_postgres():  # every row of every table
        content = every_value()
        assert USERNAME.encode() in content  # (what is read is what the base keeps)
        assert PASSWORD.encode() not in content and b"not-the-password" not in content
        return
    db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    for path in filter(Path.is_file, mail_db.parent.glob(mail_db.name + "*")):
        content = path.read_bytes()
        assert PASSWORD.encode() not in content and b"not-the-password" not in content, path


def test_addressless_are_not_queued(mail_db):
    no_address = queries.invoices_without_address(SEPTEMBER).first()
    result = outbox.queue_invoices([no_address.id], operator="marie")
    assert result.record_ids == [] and result.no_address == [no_address.id]
    assert Resident.get_by_id(no_address.resident_id).recipients == []


def test_implicit_tls_on_its_own_port(mail_db, tmp_path):
    ssl_server = SmtpTestServer(tmp_path, tls="ssl").start()
    try:
        summary, _ = send(september(2), engine_settings=settings(port=ssl_server.port, security="ssl",
                                                                 ca_file=str(ssl_server.ca_file)))
        assert summary.sent == 2 and len(ssl_server.received) == 2
    finally:
        ssl_server.stop()


def test_no_password_over_an_unencrypted_connection(mail_db, tmp_path):
    plain = SmtpTestServer(tmp_path, tls="none", auth=False).start()
    try:
        summary, _ = send(september(1), engine_settings=settings(port=plain.port, security="none"))
        assert isinstance(summary.stopped, InsecureAuthRefused) and plain.received == []
        assert "en clair" in str(summary.stopped)
        starttls, _ = send(september()[1:2], engine_settings=settings(port=plain.port, security="starttls"))
        assert isinstance(starttls.stopped, TlsUnavailable)
        anonymous, _ = send(september()[2:3], engine_settings=settings(port=plain.port, security="none", username=""))
        assert anonymous.sent == 1 and len(plain.received) == 1
    finally:
        plain.stop()


def test_connection_has_nodelay_and_verifies_certificates(mail_db, server):
    import socket

    connection = SmtpConnection.open(settings(), authenticator_for(settings()))
    try:
        sock = connection._smtp.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.version().startswith("TLS") and sock.context.verify_mode.name == "CERT_REQUIRED"
        assert sock.context.check_hostname
    finally:
        connection.close()


def test_a_selection_already_mailed_meanwhile_is_not_sent_again(mail_db, server):
    selection = [invoice.id for invoice in september(3)]  # operator B looks at the list...
    send(september(3))  # ...while operator A sends them
    again = outbox.queue_invoices(selection, operator="paul")  # B confirms
    assert again.record_ids == [] and sorted(again.already_sent) == sorted(selection)
    assert len(server.received) == 3
    forced = outbox.queue_invoices(selection[:1], operator="paul", include_sent=True)
    assert len(forced.record_ids) == 1  # "--include-sent": asked for explicitly


def test_an_error_while_claimed_never_leaves_the_record_in_flight(mail_db, server):
    from tuiapp.mail.smtp_client import PasswordAuthenticator

    def broken_keyring():
        raise secrets.SecretStoreError("trousseau verrouillé")

    queued = outbox.queue_invoices([i.id for i in september(2)], operator="marie")
    engine = SendEngine(settings(), PasswordAuthenticator(USERNAME, broken_keyring), operator="marie")
    with pytest.raises(secrets.SecretStoreError):
        engine.run(queued.record_ids)
    assert statuses() == ["queued", "queued"] and server.received == []


def test_ctrl_c_during_a_retry_puts_the_invoice_back(mail_db, server):
    server.faults.data_replies = ["451 4.3.0 Try again later"]

    def on_event(event):
        if isinstance(event, ev.RetryScheduled):
            raise KeyboardInterrupt

    queued = outbox.queue_invoices([i.id for i in september(2)], operator="marie")
    engine = SendEngine(settings(), authenticator_for(settings()), operator="marie", on_event=on_event)
    with pytest.raises(KeyboardInterrupt):
        engine.run(queued.record_ids)
    assert statuses() == ["queued", "queued"]  # never delivered, so never "unknown"


def test_a_message_refused_for_now_waits_and_the_batch_goes_on(mail_db, server):
    server.faults.data_replies = ["452 4.2.2 Mailbox full"] * 3
    summary, events = send(september(4), max_tries=3)
    assert summary.stopped is None and summary.sent == 3 and summary.remaining == 1
    assert any(isinstance(e, ev.InvoiceDeferred) for e in events)
    assert statuses() == ["queued", "sent", "sent", "sent"]


def test_a_full_mailbox_is_not_the_providers_quota(mail_db, server):
    server.faults.data_replies = ["552 5.2.2 Mailbox full, quota exceeded"]
    summary, _ = send(september(3))
    assert summary.stopped is None and (summary.failed, summary.sent) == (1, 2)


def test_relay_refused_for_every_recipient_stops_the_batch(mail_db, server):
    invoices = september(3)
    server.faults.refuse_recipients = {a.lower() for i in invoices for a in i.resident.recipients}
    server.handler.refuse_reply = "550 5.7.1 Unable to relay"
    summary, _ = send(invoices)
    assert isinstance(summary.stopped, SenderRefused) and statuses() == ["queued"] * 3


def test_only_the_copy_accepted_is_a_failure(mail_db, server):
    structure = september(1)[0].structure
    structure.bcc = "archive@example.org"
    structure.save()
    invoice = next(i for i in september() if i.structure_id == structure.id)
    server.faults.refuse_recipients = {a.lower() for a in invoice.resident.recipients}
    summary, _ = send([invoice])
    assert summary.failed == 1 and summary.partial == 0
    assert Invoice.get_by_id(invoice.id).last_mailed_at is None  # the resident got nothing


def test_pacing_counts_what_the_previous_run_sent(mail_db, server):
    """The second run (another engine, as after a restart) learns from the database
    when the first one's messages left, and waits for the window to pass."""
    rate, window = 3, 60.0
    engine_settings = settings(rate_per_minute=rate)
    started, clock = time.monotonic(), FakeClock()
    send(september(3), engine_settings=engine_settings, clock=clock)
    first = clock.sent
    _, events = send(september()[3:5], engine_settings=engine_settings, clock=clock)
    real = time.monotonic() - started  # the first run's messages are at most this old in the second's eyes
    assert len(first) == 3 and len(clock.sent) == 2 and len(server.received) == 5
    assert all(later - earlier >= window - real for later in clock.sent for earlier in first)
    waits = [e.delay for e in events if isinstance(e, ev.PacingWait)]
    assert waits[0] == pytest.approx(window, abs=real) and sum(waits) <= window  # the rest: the seeds' spread
    assert real < window / 4


def test_a_refusal_in_the_greeting_is_temporary_and_keeps_its_text(tmp_path):
    import socket
    import threading

    from tuiapp.mail.problems import TransientFailure
    from tuiapp.mail.smtp_client import NoAuthentication, SmtpConnection

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def greet():
        connection, _ = listener.accept()
        connection.sendall(b"421 4.3.2 Concurrent connections limit exceeded\r\n")
        connection.close()

    threading.Thread(target=greet, daemon=True).start()
    plain = SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], security="none", username="")
    with pytest.raises(TransientFailure) as error:
        SmtpConnection.open(plain, NoAuthentication())
    listener.close()
    assert "4.3.2" in str(error.value) and "Serveur injoignable" not in str(error.value)


def test_a_shared_guardian_gets_one_message_per_invoice(mail_db, server):
    by_guardian: dict[str, list] = {}
    for invoice in september():
        if invoice.resident.guardian_email:
            by_guardian.setdefault(invoice.resident.guardian_email, []).append(invoice)
    guardian, invoices = max(by_guardian.items(), key=lambda item: len(item[1]))
    assert len(invoices) >= 2
    send(invoices)
    to_guardian = [r for r in server.received if guardian in r.rcpt_tos]
    assert len(to_guardian) == len(invoices)
    numbers = sorted(next(r.message.iter_attachments()).get_filename().split("_")[1] for r in to_guardian)
    assert numbers == sorted(i.number for i in invoices)
    assert all(len(list(r.message.iter_attachments())) == 1 for r in to_guardian)


def test_no_journal_slot_no_handing_over(mail_db, server):
    """The slot that keeps the server's reply cannot be reserved: nothing leaves, the batch stops."""
    from tuiapp.sending import journal
    from tuiapp.sending.engine import JournalUnavailable

    folder = journal.current_folder()  # beside the file; a PostgreSQL base's, in the data directory
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")
    summary, events = send(september(3))
    assert isinstance(summary.stopped, JournalUnavailable) and "Journal d'envoi impossible" in str(summary.stopped)
    assert server.received == [] and statuses() == ["queued"] * 3
    assert "Envoi arrêté. Journal d'envoi impossible à écrire" in wording.describe(
        next(e for e in events if isinstance(e, ev.BatchStopped)))


def test_handed_over_stays_true_after_the_reply(mail_db, server):
    """Once the final dot is written the server may hold the message, reply or not; only
    its refusal clears that (so an error afterwards never puts the record back in the queue)."""
    server.faults.data_replies = ["550 5.6.0 Content rejected"]
    connection = SmtpConnection.open(settings(), authenticator_for(settings()))
    try:
        with pytest.raises(SmtpProblem):
            connection.send(b"Subject: x\r\n\r\nrefused\r\n", USERNAME, ["a@example.org"])
        assert not connection.payload_sent
        connection.send(b"Subject: x\r\n\r\naccepted\r\n", USERNAME, ["a@example.org"])
        assert connection.payload_sent  # the 250 came: it stays handed over
    finally:
        connection.close()


@pytest.mark.sqlite_only  # SQLite's write lock held by another process (PostgreSQL's counterpart: test_postgres_service)
def test_the_journal_goes_to_the_disk_only_when_the_database_cannot_take_the_outcome(mail_db, server, monkeypatch):
    """The claim is durable in the database before the slot exists, so a slot is synced
    (file, then folder) only when it becomes the one record of a reply."""
    import os

    from tests.test_send_faults import hold_lock, release

    synced: list[str] = []
    real_fsync = os.fsync

    def spying_fsync(descriptor):
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        return real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    journal_folder = Path(f"{mail_db}.send-journal").resolve()
    summary, _ = send(september(3))
    assert summary.sent == 3 and not [path for path in synced if path.startswith(str(journal_folder))]

    holders = []
    server.faults.on_data = {4: lambda: holders.append(hold_lock(Path(mail_db)))}
    try:
        summary, _ = send(september(5)[3:])
    finally:
        for holder in holders:
            release(holder)
    [slot] = journal_folder.glob("*.slot")
    assert summary.stopped is not None and b'"status": "sent"' in slot.read_bytes()
    assert [path for path in synced if path.startswith(str(journal_folder))] == [str(slot), str(journal_folder)]


def test_a_journal_slot_keeps_its_size_whatever_the_reply(mail_db):
    """Written in place, never grown: a full disk cannot refuse the server's reply."""
    from tuiapp.sending import journal

    slot = journal.reserve(1, message_id="<1@example.org>", claimed_by="host:1:1")
    slot.record(SendStatus.PARTIAL, reply="250 " + "é" * 20_000,
                refused={f"r{i}@example.org": "550 " + "x" * 500 for i in range(50)})
    assert slot.path.stat().st_size == journal.SLOT_SIZE
    [kept] = journal.pending().values()
    assert kept.content["status"] == SendStatus.PARTIAL and kept.content["reply"].startswith("250 é")
    slot.discard()
    assert journal.pending() == {}


class Renewable:
    """Credentials that may be stale, like an OAuth token: ``renew`` takes the next ones."""

    def __init__(self, *passwords: str) -> None:
        self.passwords = list(passwords)
        self.renewals = 0

    def authenticate(self, smtp) -> None:
        smtp.login(USERNAME, self.passwords[0])

    def renew(self) -> bool:
        self.renewals += 1
        self.passwords = self.passwords[1:] or self.passwords
        return self.renewals < 5  # an engine that renews without end fails the test rather than hang


@pytest.mark.parametrize("fresh, sent", [(PASSWORD, 2), ("refused-as-well", 0)])
def test_refused_credentials_get_one_renewal_before_the_batch_stops(mail_db, server, fresh, sent):
    authenticator, events = Renewable("expired-token", fresh), []
    queued = outbox.queue_invoices([i.id for i in september(2)], operator="marie")
    summary = SendEngine(settings(), authenticator, operator="marie", on_event=events.append).run(queued.record_ids)
    assert authenticator.renewals == 1 and summary.sent == sent and len(server.received) == sent
    [retry] = [e for e in events if isinstance(e, ev.RetryScheduled)]
    assert isinstance(retry.problem, AuthenticationFailed) and retry.delay == 0
    if not sent:
        assert isinstance(summary.stopped, AuthenticationFailed) and statuses() == ["queued"] * 2


def test_a_refusal_after_the_renewal_stops_even_when_the_connection_opens(mail_db, server):
    """Office 365 may take AUTH and refuse the message (530 5.7.57): renewed once, then it stops."""
    server.faults.sender_refused = "530 5.7.57 Client not authenticated to send mail."
    authenticator = Renewable(PASSWORD)
    queued = outbox.queue_invoices([i.id for i in september(2)], operator="marie")
    summary = SendEngine(settings(), authenticator, operator="marie").run(queued.record_ids)
    assert authenticator.renewals == 1 and isinstance(summary.stopped, AuthenticationFailed)
    assert server.received == [] and statuses() == ["queued"] * 2


def test_the_service_queues_again_its_claims_that_never_reached_a_slot_then_sends_them(mail_db, server):
    """A claim whose COMMIT answer was lost with the connection (then the batch stopped before the
    journal slot) was never handed over: between two batches the service puts it back in the
    queue and sends it, once; a claim that got its slot is left to the recovery."""
    from tuiapp.sender.service import SenderService
    from tuiapp.sending import journal
    from tuiapp.sending.workflow import connection_for_association

    invoices = september(2)
    unstarted, slotted = outbox.queue_invoices([invoice.id for invoice in invoices], operator="marie").record_ids
    assert outbox.claim(unstarted, operator=None, message_id="<lost-answer@example.org>")
    assert outbox.claim(slotted, operator=None, message_id="<slotted@example.org>")
    journal.reserve(slotted, message_id="<slotted@example.org>", claimed_by=outbox.process_tag()).keep()
    drained = SenderService(connection_for_association(), once=True).run()
    assert drained.sent == 1 and len(server.received) == 1
    assert SendRecord.get_by_id(unstarted).status == SendStatus.SENT
    assert SendRecord.get_by_id(slotted).status == SendStatus.UNKNOWN  # its slot says nothing: maybe sent


def test_a_deferral_the_database_could_not_take_is_queued_again_from_the_journal(mail_db, server, monkeypatch):
    """The server refused the message for now; putting the record back in the queue fails (the
    database's server gone): the slot says "not delivered", and the recovery queues it again,
    never "unknown, maybe sent"."""
    from tuiapp.db.waiting import DatabaseUnreachable
    from tuiapp.sending import journal

    server.faults.data_replies = ["452 4.2.2 Mailbox full"] * 3
    real_release = outbox.release

    def release_lost(*args, **kwargs):
        monkeypatch.setattr(outbox, "release", real_release)  # once: the base is back afterwards
        raise DatabaseUnreachable(None)

    monkeypatch.setattr(outbox, "release", release_lost)
    summary, _ = send(september(2), max_tries=3)
    assert isinstance(summary.stopped, DatabaseUnreachable) and server.received == []
    assert sorted(statuses()) == ["queued", "sending"] and [slot.content["status"] for slot in journal.pending().values()] == [
        "queued"]
    assert recovery.recover_interrupted() == []  # none made unknown
    assert statuses() == ["queued", "queued"] and journal.pending() == {}
