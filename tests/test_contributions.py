"""Édition des contributions and its sending tab, keys only, at 80x24, against a real server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from textual.widgets import DataTable

from tests.smtp_server import PASSWORD, USERNAME
from tuiapp.app import create_app
from tuiapp.mail import secrets
from tuiapp.domain.periods import Period
from tuiapp.db import queries
from tuiapp.db.database import db
from tuiapp.db.models import Association, Invoice, SendRecord

SIZE = (80, 24)
SEPTEMBER = Period(2024, 9)


@pytest.fixture
def app(demo_db_file, server):
    application = create_app(demo_db_file)
    association = Association.get_solo()
    association.smtp_host, association.smtp_port, association.smtp_security = "127.0.0.1", server.port, "starttls"
    association.smtp_username, association.smtp_ca_file = USERNAME, str(server.ca_file)
    association.smtp_rate_per_minute = 0
    association.save()
    secrets.set_password("127.0.0.1", USERNAME, PASSWORD)
    yield application
    db.close()


def panel(app):
    return app.screen.query_one("SendingPanel")


async def open_september_sending_tab(pilot):
    await pilot.press("c")  # home -> Édition des contributions (octobre 2024, the latest)
    await pilot.press("minus")  # one period back: septembre 2024
    await pilot.pause()
    assert pilot.app.screen.period == SEPTEMBER
    await pilot.press("e")  # Envoi par mail: the sending tab
    await pilot.pause()


async def wait_for_batch(pilot):
    for _ in range(600):
        await pilot.pause(0.05)
        if not panel(pilot.app).sending:
            return
    raise AssertionError("the batch did not finish")


def attachment_numbers(server):
    """The invoice number of each message received, checking that its attachment is a PDF."""
    numbers = []
    for received in server.received:
        attachment = next(received.message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content().startswith(b"%PDF")
        numbers.append(attachment.get_filename().split("_")[1])
    return sorted(numbers)


async def test_send_the_ticked_invoices_of_september(app, server):
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        eligible = [row.number for row in queries.send_rows(SEPTEMBER)]
        assert len(sending.rows) == len(eligible) and len(sending.selected) == len(eligible)
        first = int(sending.query_one(DataTable).coordinate_to_cell_key((0, 0)).row_key.value)
        await pilot.press("space")  # untick the first row (the cursor moves down)
        skipped = sending.rows[first]
        assert skipped.invoice_id not in sending.selected
        await pilot.press("v")  # preview the row under the cursor
        await pilot.pause()
        preview = str(app.screen.query_one("#preview-text").render())
        assert preview.startswith("De : ") and "Objet : " in preview and "Pièce jointe : Facture_" in preview
        await pilot.press("escape")
        await pilot.press("e")  # send
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        assert f"Envoyer {len(eligible) - 1} facture(s)" in str(app.screen.query_one("#question").render())
        await pilot.press("o")
        await wait_for_batch(pilot)
        sent = sorted(set(eligible) - {skipped.number})
        assert attachment_numbers(server) == sent  # exactly the ticked invoices, once each
        lines = [line for line in sending.log_texts if "envoyée à" in line]
        assert len(lines) == len(sent)
        assert any("Envoi terminé" in line for line in sending.log_texts)
        states = {sending.rows[i].number: state for i, state in sending.states.items()}
        assert all(states[number] == "sent" for number in sent) and states[skipped.number] == ""
        await pilot.press("ctrl+w", "e")  # close the tab, open it again
        await pilot.pause()
        reopened = panel(app)
        mailed = {row.number: row.last_mailed_at for row in reopened.rows.values()}
        assert all(mailed[number] is not None for number in sent) and mailed[skipped.number] is None
        table = reopened.query_one(DataTable)
        first_sent = next(i for i in reopened.rows if reopened.rows[i].number in sent)
        assert str(table.get_cell(str(first_sent), "last")).startswith("mail ")


async def test_partial_then_wrong_password(app, server):
    two = [row for row in queries.send_rows(SEPTEMBER) if len(row.recipients) == 2]
    server.faults.refuse_recipients = {two[0].guardian_email.lower()}
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("n")  # none
        sending.query_one(DataTable).move_cursor(row=sending.query_one(DataTable).get_row_index(str(two[0].invoice_id)))
        await pilot.press("space", "e", "o")
        await wait_for_batch(pilot)
        assert sending.states[two[0].invoice_id] == "partial"
        assert any("envoi partiel" in line and two[0].guardian_email in line for line in sending.log_texts)

        secrets.set_password("127.0.0.1", USERNAME, "wrong-password")
        received = len(server.received)
        await pilot.press("u", "e", "o")  # all not yet mailed
        await wait_for_batch(pilot)
        stopped = [line for line in sending.log_texts if "Envoi arrêté" in line]
        assert len(stopped) == 1 and "Mot de passe refusé par le serveur (535)" in stopped[0]
        assert len(server.received) == received
    assert Invoice.select().where(Invoice.period_month == 9, Invoice.last_mailed_at.is_null(False)).count() == 1
    assert SendRecord.select().where(SendRecord.status == "sent").count() == SendRecord.select().where(
        SendRecord.operator == "demo").count()  # only the demo's history is "sent"


async def test_unknown_record_is_shown_and_decided(app, server):
    from tuiapp.sending import outbox

    row = queries.send_rows(SEPTEMBER)[0]
    record_id = outbox.queue_invoices([row.invoice_id], operator="marie").record_ids[0]
    outbox.claim(record_id, operator="marie", message_id="<1@example.org>")
    SendRecord.update(claimed_by="elsewhere:1:1", started_at=datetime(2024, 1, 1, tzinfo=UTC)).where(
        SendRecord.id == record_id).execute()
    outbox.recover_interrupted()
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        assert sending.states[row.invoice_id] == "unknown" and row.invoice_id not in sending.selected
        table = sending.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(row.invoice_id)))
        await pilot.press("space")  # cannot be ticked
        assert row.invoice_id not in sending.selected
        await pilot.press("up", "k")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ChoiceScreen"
        await pilot.press("r")  # decide: send it again
        await wait_for_batch(pilot)
    assert attachment_numbers(server) == [row.number]


async def test_residents_who_left_are_listed_ticked_and_sent(app, server):
    """The seed's list: DURAND Claude has left but has an invoice and two addresses. Only the
    invoices without an address are to print."""
    without_address = queries.invoices_without_address(SEPTEMBER)
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        durand = next(row for row in sending.rows.values() if row.number == "EHPAD-202409-040")
        assert durand.resident == "DURAND Claude" and not durand.active
        assert durand.invoice_id in sending.selected  # ticked by default, like any other
        table = sending.query_one(DataTable)
        for _ in range(100):
            await pilot.pause(0.02)
            if sending.loaded:
                break
        assert str(table.get_cell(str(durand.invoice_id), "name")) == "DURAND Claude, sorti(e)"
        left_out = str(sending.query_one("#left-out").render())
        assert left_out.startswith(f"{without_address.count()} sans adresse e-mail : à imprimer")
        await pilot.press("l")
        listed = str(app.screen.query_one("#preview-text").render())
        assert sorted(line.split()[0] for line in listed.splitlines()) == sorted(i.number for i in without_address)
        assert "MASSON Loïc, sorti(e) : aucune adresse e-mail" in listed
        await pilot.press("escape", "n")
        table.move_cursor(row=table.get_row_index(str(durand.invoice_id)))
        await pilot.press("space", "e", "o")
        await wait_for_batch(pilot)
    assert attachment_numbers(server) == ["EHPAD-202409-040"]
    assert sorted(server.received[0].rcpt_tos) == ["claude.durand@example.com", "gerard.durand43@example.net"]


def test_snapshot_main_tab(snap_compare, snap_app):
    assert snap_compare(snap_app, terminal_size=SIZE, run_before=keys("c", "minus"))


def test_snapshot_sending_tab(snap_compare, snap_app):
    assert snap_compare(snap_app, terminal_size=SIZE, run_before=keys("c", "minus", "e", "space"))


def test_snapshot_confirmation(snap_compare, snap_app):
    assert snap_compare(snap_app, terminal_size=SIZE, run_before=keys("c", "minus", "e", "e"))


def test_snapshot_after_a_send(snap_compare, snap_app):
    async def run_before(pilot):
        await keys("c", "minus", "e", "n", "space", "space", "e", "o")(pilot)
        await wait_for_batch(pilot)
        await pilot.app.workers.wait_for_complete()  # the states read again after the batch
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=run_before)


def keys(*pressed):
    async def run_before(pilot):
        for key in pressed:
            await pilot.press(key)
            await pilot.pause()

    return run_before


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        moment = datetime(2024, 10, 3, 9, 30, tzinfo=UTC)
        return moment if tz else moment.replace(tzinfo=None)


@pytest.fixture
def snap_app(app, demo_db_file, monkeypatch):
    """The same app with the clock and the time zone frozen, and a stable title bar."""
    import tuiapp.sending.outbox
    import tuiapp.screens.sending

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(tuiapp.screens.sending, "datetime", _FrozenDatetime)
    monkeypatch.setattr(tuiapp.sending.outbox, "utcnow", lambda: datetime(2024, 10, 3, 9, 30, tzinfo=UTC))
    app.sub_title = "demo.db"
    app.db_path = "demo.db"
    yield app
    monkeypatch.undo()
    time.tzset()


async def test_print_the_period(app, tmp_path, monkeypatch):
    """One invoice whose PDF cannot be made (a row written straight into the base): the others are
    printed and stamped, and the failure is listed on screen."""
    import pymupdf

    import tuiapp.services.printing

    monkeypatch.setattr(tuiapp.services.printing, "user_documents_path", lambda: tmp_path)
    invoices = list(queries.invoices_of_period(SEPTEMBER))
    broken = invoices[2]
    db.execute_sql("UPDATE invoice SET issue_date = 'hier' WHERE id = ?", (broken.id,))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "minus", "p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "PreviewScreen"
        shown = str(app.screen.query_one("#preview-text").render())
        assert f"{broken.number} {broken.resident.display_name} : PDF impossible à produire" in shown
        assert any("1 facture(s) non imprimée(s)" in n.message for n in app._notifications)
    folder = tmp_path / "tuiapp" / "factures-2024-09"
    files = sorted(folder.glob("Facture_*.pdf"))
    assert len(files) == len(invoices) - 1
    assert not any(broken.number in file.name for file in files)
    with pymupdf.open(folder / "toutes.pdf") as combined:
        assert combined.page_count == len(invoices) - 1
        assert invoices[0].number in combined[0].get_text()
    not_stamped = Invoice.select().where(Invoice.period_month == 9, Invoice.last_printed_at.is_null())
    assert [invoice.id for invoice in not_stamped] == [broken.id]


async def test_another_workstation_sending_is_shown_and_never_doubled(app, server):
    from tuiapp.sending import outbox

    rows = queries.send_rows(SEPTEMBER)
    busy, mailed = rows[0], rows[1]
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        assert mailed.invoice_id in sending.selected
        # Another operator: one invoice in flight (its process alive), another already sent.
        record = outbox.queue_invoices([busy.invoice_id], operator="paul", batch="paul").record_ids[0]
        outbox.claim(record, operator="paul", message_id="<p@example.org>")
        other = outbox.queue_invoices([mailed.invoice_id], operator="paul", batch="paul2").record_ids[0]
        outbox.claim(other, operator="paul", message_id="<q@example.org>")
        outbox.complete(other, "sent", reply="250 OK")
        sending.refresh_states()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sending.states[busy.invoice_id] == "other" and busy.invoice_id not in sending.selected
        assert mailed.invoice_id not in sending.selected  # sent from elsewhere meanwhile: unticked
        table = sending.query_one(DataTable)
        assert str(table.get_cell(str(busy.invoice_id), "state")) == "autre poste"
        table.move_cursor(row=table.get_row_index(str(busy.invoice_id)))
        await pilot.press("space")
        assert busy.invoice_id not in sending.selected


async def test_cancel_stops_and_withdraws_the_rest(app, server):
    server.faults.hold_data = {2: 0.5}
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("e", "o")
        for _ in range(200):
            await pilot.pause(0.02)
            if server.handler.data_started.is_set():
                break
        await pilot.press("c")
        await wait_for_batch(pilot)
        sent = len(server.received)
        assert 1 <= sent < 5
        assert any("retirée(s) de la file d'attente" in line for line in sending.log_texts)
        await pilot.press("escape")  # back to the invoices, and it stays there
        await pilot.pause()
        assert app.screen.query_one("TabbedContent").active == "main"
        assert app.focused.id == "invoices"
    assert SendRecord.select().where(SendRecord.status.in_(("queued", "sending"))).count() == 0


async def test_an_interruption_withdraws_nothing_and_the_next_run_resumes(app, server):
    """Unlike the operator's cancel (c): an interruption (what leaving the app asks of a
    running batch) stops after the message on the wire and leaves the rest queued."""
    server.faults.hold_data = {2: 0.5}
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("n", *["space"] * 6)  # a small batch: six invoices
        total = len(sending.selected)
        assert total == 6
        await pilot.press("e", "o")
        for _ in range(200):
            await pilot.pause(0.02)
            if server.handler.data_started.is_set():
                break
        sending.cancel_event.set()  # as App._leave_then does, when the operator leaves during a batch
        await wait_for_batch(pilot)
        sent = len(server.received)
        assert 1 <= sent < 5
        assert any("Envoi interrompu" in line for line in sending.log_texts)
        assert not any("retirée(s)" in line for line in sending.log_texts)
        states = [record.status for record in SendRecord.select()
                  .join(Invoice).where(Invoice.period_year == 2024, Invoice.period_month == 9)]
        assert states.count("sent") == sent and states.count("queued") == total - sent
        sending.selected = {record.invoice_id for record in SendRecord.select().where(SendRecord.status == "queued")}
        await pilot.press("e", "o")  # the next run resumes them
        await wait_for_batch(pilot)
    assert len(server.received) == total and len(set(attachment_numbers(server))) == total  # each once
