"""Édition des contributions and its sending tab, keys only, at 80x24, against a real server."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import DataTable

from tests.conftest import point_at
from tests.raw import write_around
from tests.smtp_server import USERNAME
from tuiapp.app import create_app
from tuiapp.db import queries
from tuiapp.db.database import db, is_postgres
from tuiapp.db.models import Invoice, SendRecord
from tuiapp.domain.formatting import format_amount
from tuiapp.domain.periods import Period
from tuiapp.mail import secrets
from tuiapp.screens.sending import SendingPanel
from tuiapp.sending import events as ev

SIZE = (80, 24)
SEPTEMBER = Period(2024, 9)


@pytest.fixture
def app(demo_db_file, server):
    application = create_app(demo_db_file)
    point_at(server)
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


def detail_lines(sending) -> list[str]:
    """The detail lines under the table, as the screen shows them."""
    detail = sending.query_one("#send-detail")
    return [strip.text.strip() for strip in detail.render_lines(Region(0, 0, *detail.region.size))]


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
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        eligible = [row.number for row in queries.send_rows(SEPTEMBER)]
        assert len(sending.table.invoices) == len(eligible) and len(sending.table.ticked) == len(eligible)  # all ticked
        await pilot.press("n", *["space"] * 10)  # none, then the first ten (the cursor moves down)
        table = sending.query_one(DataTable)
        ticked = {sending.table.invoices[int(table.coordinate_to_cell_key((row, 0)).row_key.value)].number
                  for row in range(10)}
        await pilot.press("up", "space")  # untick the tenth
        skipped = sending.table.invoices[int(table.coordinate_to_cell_key((9, 0)).row_key.value)]
        assert skipped.invoice_id not in sending.table.ticked and len(sending.table.ticked) == 9
        await pilot.press("v")  # preview the row under the cursor
        await pilot.pause()
        preview = str(app.screen.query_one("#preview-text").render())
        assert preview.startswith("De : ") and "Objet : " in preview and "Pièce jointe : Facture_" in preview
        await pilot.press("escape")
        await pilot.press("e")  # send
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        assert "Envoyer 9 factures" in str(app.screen.query_one("#question").render())
        await pilot.press("o")
        await wait_for_batch(pilot)
        sent = sorted(ticked - {skipped.number})
        assert attachment_numbers(server) == sent  # exactly the ticked invoices, once each
        lines = [line for line in sending.log_texts if "envoyée à" in line]
        assert len(lines) == len(sent)
        assert any("Envoi terminé : 9 envoyées." in line for line in sending.log_texts)
        assert str(sending.query_one("#progress-label").render()) == "9/9 traitées"
        posted = [message.event for message in messages if isinstance(message, SendingPanel.Progress)]
        assert sum(isinstance(event, ev.InvoiceSent) for event in posted) == 9  # the engine's events, as messages
        assert sum(isinstance(message, SendingPanel.Ended) for message in messages) == 1
        states = {sending.table.invoices[i].number: state for i, state in sending.states.items()}
        assert all(states[number] == "sent" for number in sent) and states[skipped.number] == ""
        await pilot.press("ctrl+w", "e")  # close the tab, open it again
        await pilot.pause()
        reopened = panel(app)
        mailed = {row.number: row.last_mailed_at for row in reopened.table.invoices.values()}
        assert all(mailed[number] is not None for number in sent) and mailed[skipped.number] is None
        first_sent = next(i for i in reopened.table.invoices if reopened.table.invoices[i].number in sent)
        cells = reopened.query_one(DataTable)
        mailed_at = reopened.table.invoices[first_sent].last_mailed_at
        assert (datetime.now(UTC) - mailed_at).total_seconds() < 60
        assert str(cells.get_cell(str(first_sent), "mailed")) == f"{mailed_at.astimezone():%d/%m/%y}"
        assert str(cells.get_cell(str(first_sent), "state")) == "envoyée"
        cells.move_cursor(row=cells.get_row_index(str(first_sent)))
        await pilot.pause()
        assert detail_lines(reopened)[0].endswith(f"Envoyée le {mailed_at.astimezone():%d/%m/%Y à %H:%M}")


async def test_a_database_error_during_the_send_is_said_in_french(app, server, monkeypatch):
    """A database error the send could not turn into a stop of its own (a page found damaged
    mid-read): its meaning in French, never the driver's text as an "unexpected error"."""
    import sqlite3

    from tuiapp.sending import workflow

    def damaged(*args, **kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(workflow, "send", damaged)
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("e", "o")
        await wait_for_batch(pilot)
        log = "\n".join(sending.log_texts)
        assert "Envoi arrêté : " in log and "L'état de chaque facture est dans la liste." in log, log
        assert "malformed" not in log
        assert "Erreur inattendue" not in log


async def test_no_password_nothing_is_queued(app, server):
    """The workflow refuses before queueing; the tab says why in its log."""
    secrets.delete_password("127.0.0.1", USERNAME)
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("e", "o")
        await wait_for_batch(pilot)
        assert any("Envoi impossible : Aucun mot de passe SMTP enregistré" in line for line in sending.log_texts)
    assert SendRecord.select().where(SendRecord.operator != "demo").count() == 0 and server.received == []


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
    from tuiapp.sending import outbox, recovery

    row = queries.send_rows(SEPTEMBER)[0]
    record_id = outbox.queue_invoices([row.invoice_id], operator="marie").record_ids[0]
    outbox.claim(record_id, operator="marie", message_id="<1@example.org>")
    SendRecord.update(claimed_by="elsewhere:1:1", started_at=datetime(2024, 1, 1, tzinfo=UTC)).where(
        SendRecord.id == record_id).execute()
    recovery.recover_interrupted()
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        assert sending.states[row.invoice_id] == "unknown" and row.invoice_id not in sending.table.ticked
        table = sending.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(row.invoice_id)))
        await pilot.press("space")  # cannot be ticked
        assert row.invoice_id not in sending.table.ticked
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
        durand = next(row for row in sending.table.invoices.values() if row.number == "EHPAD-202409-040")
        assert durand.resident == "DURAND Claude" and not durand.active
        assert durand.invoice_id in sending.table.ticked  # ticked by default, like any other
        table = sending.query_one(DataTable)
        for _ in range(100):
            await pilot.pause(0.02)
            if sending.loaded:
                break
        assert str(table.get_cell(str(durand.invoice_id), "name")) == "DURAND Claude"
        assert str(table.get_cell(str(durand.invoice_id), "marks")) == "S"  # sorti(e), said in full below
        table.move_cursor(row=table.get_row_index(str(durand.invoice_id)))
        await pilot.pause()
        assert detail_lines(sending)[0].startswith("DURAND Claude, sorti(e)  ")
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


def shown_headers(table: DataTable) -> list[str]:
    """The headers an 80-column terminal shows, each checked whole: its label fits its column,
    and the column ends inside the visible width or starts past it (reached by scrolling)."""
    visible, x, shown = table.scrollable_content_region.width, 0, []
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        assert column.label.cell_len <= column.width, column.label
        assert x + width <= visible or x >= visible, f"« {column.label} » cut at {visible} columns"
        if x < visible:
            shown.append(column.label.plain)
        x += width
    return shown


def test_snapshot_main_tab(snap_compare, snap_app):
    """The invoices of a period: every header whole, the counts of the period."""

    async def run_before(pilot):
        await keys("c", "minus")(pilot)
        screen = pilot.app.screen
        assert shown_headers(screen.query_one("#invoices", DataTable)) == ["Résident", "N°", "Montant HT", "Édition"]
        assert str(screen.query_one("#summary").render()) == (
            "125 factures : 102 par e-mail (0 envoyée), 23 à imprimer")

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_sending_tab(snap_compare, snap_app):
    """The sending tab, the first row unticked: every header whole, the ticked count and total, and
    for the row under the cursor all the seed asks: name, date and time of the last send, number,
    amount HT, both addresses (the cursor on an invoice mailed the day before, to two addresses)."""

    async def run_before(pilot):
        row = next(row for row in queries.send_rows(SEPTEMBER) if row.number == "FAM-202409-006")
        Invoice.update(last_mailed_at=datetime(2024, 10, 2, 16, 45, tzinfo=UTC)).where(
            Invoice.id == row.invoice_id).execute()
        await keys("c", "minus", "e", "space", "slash", *row.number, "enter")(pilot)
        sending = panel(pilot.app)
        assert shown_headers(sending.query_one(DataTable)) == ["✓", "Résident", "N°", "Montant HT", "État", "Date", "+"]
        table = sending.query_one(DataTable)
        assert sending.table.current_invoice().invoice_id == row.invoice_id
        assert [str(cell) for cell in table.get_row(str(row.invoice_id))] == [
            "☐", "DE LA FONTAINE Éric", "FAM-202409-006", format_amount(row.amount_ht), "", "02/10/24", ""]
        lines = detail_lines(sending)
        assert lines[0].startswith("DE LA FONTAINE Éric ") and lines[0].endswith("Envoyée le 02/10/2024 à 16:45")
        assert lines[1].startswith("Courriel : eric.delafontaine@example.com ") and lines[1].endswith("PDF généré")
        assert lines[2] == "Tuteur : pierre.delafontaine84@example.net"
        assert str(sending.query_one("#send-summary").render()) == (
            f"100 factures cochées sur 102 ({format_amount(Decimal('187082.45') - row.amount_ht)} HT)")

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_confirmation(snap_compare, snap_app):
    """The question before a send: how many invoices, to how many addresses."""

    async def run_before(pilot):
        await keys("c", "minus", "e", "e")(pilot)
        assert str(pilot.app.screen.query_one("#question").render()) == "Envoyer 102 factures à 136 adresses ?"

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_after_a_send(snap_compare, snap_app):
    """Two invoices sent: their state, date and time, the progress, the log's summary."""

    async def run_before(pilot):
        await keys("c", "minus", "e", "n", "space", "space", "e", "o")(pilot)
        await wait_for_batch(pilot)
        await pilot.app.workers.wait_for_complete()  # the states read again after the batch
        await pilot.pause()
        sending = panel(pilot.app)
        table = sending.query_one(DataTable)
        assert [str(table.get_row_at(row)[4]) for row in range(3)] == ["envoyée", "envoyée", ""]
        assert [str(table.get_row_at(row)[5]) for row in range(3)] == ["03/10/24", "03/10/24", ""]
        await pilot.press("up")  # the second invoice sent
        assert detail_lines(sending)[0].endswith("Envoyée le 03/10/2024 à 09:30")
        assert str(sending.query_one("#progress-label").render()) == "2/2 traitées"
        assert sending.log_texts[-1] == "09:30:00  Envoi terminé : 2 envoyées."

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
    import tuiapp.sending.recovery
    import tuiapp.widgets.send_log

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(tuiapp.widgets.send_log, "datetime", _FrozenDatetime)
    monkeypatch.setattr(tuiapp.sending.outbox, "utcnow", lambda: datetime(2024, 10, 3, 9, 30, tzinfo=UTC))
    monkeypatch.setattr(tuiapp.sending.recovery, "utcnow", lambda: datetime(2024, 10, 3, 9, 30, tzinfo=UTC))
    app.sub_title = "demo.db"
    app.db_path = Path("demo.db")
    yield app
    monkeypatch.undo()
    time.tzset()


async def test_print_the_period(app, tmp_path, monkeypatch):
    """One invoice whose PDF cannot be made (on SQLite a date that is none, written straight into the
    base; on PostgreSQL, whose date column refuses it, an imported "PDF" that is none): the others
    are printed and stamped, and the failure is listed on screen."""
    import hashlib

    import pymupdf

    import tuiapp.services.printing
    from tuiapp.db.import_models import InvoicePdf

    monkeypatch.setattr(tuiapp.services.printing, "user_documents_path", lambda: tmp_path)
    invoices = list(queries.invoices_of_period(SEPTEMBER))
    broken = invoices[2]
    if is_postgres():  # its date column holds dates only: an "imported" PDF that is none, its hash right
        InvoicePdf.create(invoice=broken, sha256=hashlib.sha256(b"pas un PDF").hexdigest(), data=b"pas un PDF",
                          file_name="facture.pdf")
    else:
        write_around("UPDATE invoice SET issue_date = 'hier' WHERE id = ?", (broken.id,))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "minus", "p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "PreviewScreen"
        shown = str(app.screen.query_one("#preview-text").render())
        assert f"{broken.number} {broken.resident.display_name} : PDF impossible à produire" in shown
        assert any("1 facture non imprimée" in n.message for n in app._notifications)
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
        assert mailed.invoice_id in sending.table.ticked
        # Another operator: one invoice in flight (its process alive), another already sent.
        record = outbox.queue_invoices([busy.invoice_id], operator="paul", batch="paul").record_ids[0]
        outbox.claim(record, operator="paul", message_id="<p@example.org>")
        other = outbox.queue_invoices([mailed.invoice_id], operator="paul", batch="paul2").record_ids[0]
        outbox.claim(other, operator="paul", message_id="<q@example.org>")
        outbox.complete(other, "sent", reply="250 OK")
        sending.refresh_states()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sending.states[busy.invoice_id] == "other" and busy.invoice_id not in sending.table.ticked
        assert mailed.invoice_id not in sending.table.ticked  # sent from elsewhere meanwhile: unticked
        table = sending.query_one(DataTable)
        assert str(table.get_cell(str(busy.invoice_id), "state")) == "ailleurs"
        table.move_cursor(row=table.get_row_index(str(busy.invoice_id)))
        await pilot.press("space")
        assert busy.invoice_id not in sending.table.ticked


def september_statuses() -> list[str]:
    return [record.status for record in SendRecord.select().join(Invoice)
            .where(Invoice.period_year == 2024, Invoice.period_month == 9)]


async def test_the_periodic_refresh_only_reads_and_opening_the_tab_recovers(app, server):
    """A send left in flight by a workstation that died: the 5-second refresh shows it as being sent
    elsewhere and writes nothing; opening the tab again settles it (unknown), as the app's start does."""
    from tuiapp.sending import outbox

    row = queries.send_rows(SEPTEMBER)[0]
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        await app.workers.wait_for_complete()
        sending = panel(app)
        record_id = outbox.queue_invoices([row.invoice_id], operator="marie").record_ids[0]
        outbox.claim(record_id, operator="marie", message_id="<1@example.org>")
        SendRecord.update(claimed_by="elsewhere:1:1", started_at=datetime(2024, 1, 1, tzinfo=UTC)).where(
            SendRecord.id == record_id).execute()
        sending.refresh_states()  # what the 5-second timer calls
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sending.states[row.invoice_id] == "other" and SendRecord.get_by_id(record_id).status == "sending"
        await pilot.press("ctrl+w", "e")  # close the tab, open it again
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert SendRecord.get_by_id(record_id).status == "unknown"
        assert panel(app).states[row.invoice_id] == "unknown"


async def test_the_tables_gc_freeze_is_undone_when_the_tab_closes(app):
    import gc

    gc.unfreeze()  # (the test process freezes its imports' objects: tests/conftest.py)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_september_sending_tab(pilot)
            for _ in range(100):
                await pilot.pause(0.02)
                if panel(app).loaded:
                    break
            assert gc.get_freeze_count() > 0
            await pilot.press("ctrl+w")
            await pilot.pause()
            assert gc.get_freeze_count() == 0  # the closed tab can be reclaimed
    finally:
        gc.collect()
        gc.freeze()


async def test_cancel_stops_and_withdraws_the_rest(app, server):
    reply = HeldReply(server)
    async with app.run_test(size=SIZE) as pilot:
        sending = await send_held(pilot, reply, 6)
        await pilot.press("c")
        reply.release()
        await wait_for_batch(pilot)
        sent = len(server.received)
        assert sent == 2  # the message on the wire, then no other
        assert any("retirées de la file d'attente" in line for line in sending.log_texts)
        assert any(f"Envoi annulé : {sent} envoyées" in line for line in sending.log_texts)
        await pilot.press("escape")  # back to the invoices, and it stays there
        await pilot.pause()
        assert app.screen.query_one("TabbedContent").active == "main"
        assert app.focused.id == "invoices"
    assert SendRecord.select().where(SendRecord.status.in_(("queued", "sending"))).count() == 0


async def test_leaving_during_a_send_interrupts_it_and_the_next_send_resumes(app, server):
    """Unlike the operator's cancel (c): leaving the screen (asked first) stops after the
    message on the wire and leaves the rest queued; the next send takes them up."""
    reply = HeldReply(server)
    async with app.run_test(size=SIZE) as pilot:
        await send_held(pilot, reply, 6)
        await pilot.press("escape", "escape")  # to the invoices, then leave the screen
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        assert "Un envoi est en cours" in str(app.screen.query_one("#question").render())
        await pilot.press("o")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HomeScreen"
        reply.release()
        for _ in range(200):  # the sending thread ends after the message on the wire
            await pilot.pause(0.02)
            if "sending" not in september_statuses():
                break
        sent = len(server.received)
        assert sent == 2  # the message on the wire, then no other
        states = september_statuses()
        assert states.count("sent") == sent and states.count("queued") == 6 - sent == len(states) - sent
        await open_september_sending_tab(pilot)
        sending = panel(app)
        queued = {i for i, state in sending.states.items() if state == "queued"}
        assert len(queued) == 6 - sent and queued <= sending.table.ticked  # ticked again by default
        await pilot.press("n", "down", "down", *["space"] * 4)  # the two sent first are the first rows
        assert sending.table.ticked == queued
        await pilot.press("e", "o")  # the next run resumes them
        await wait_for_batch(pilot)
    assert len(server.received) == 6 and len(set(attachment_numbers(server))) == 6  # each once
    assert september_statuses() == ["sent"] * 6  # the waiting records taken up, none queued twice


class HeldReply:
    """The server keeps the second message's reply until ``release()``: the batch is surely under way."""

    def __init__(self, server) -> None:
        self.held, self.released = threading.Event(), threading.Event()
        server.faults.on_data = {2: self._hold}

    def _hold(self) -> None:
        self.held.set()
        self.released.wait(5)

    async def wait(self) -> None:
        for _ in range(250):
            await asyncio.sleep(0.02)
            if self.held.is_set():
                return
        raise AssertionError("the server got no second message")

    def release(self) -> None:
        self.released.set()


async def send_held(pilot, reply: HeldReply, count: int):
    """The September tab, ``count`` invoices ticked and sent, the second message held by the
    server (``reply``): returns the sending panel while the batch is surely under way."""
    await open_september_sending_tab(pilot)
    await pilot.press("n", *["space"] * count, "e", "o")
    await reply.wait()
    return panel(pilot.app)


async def test_an_invoice_left_unknown_by_this_tab_can_be_decided(app, server):
    """Sent from this tab (no earlier record), its reply lost: the decision applies to the
    record this batch wrote, read again after the batch."""
    row = next(row for row in queries.send_rows(SEPTEMBER) if row.send_record_id is None and row.recipients)
    server.faults.drop_after_data = {1}
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        table = sending.query_one(DataTable)
        await pilot.press("n")  # none
        table.move_cursor(row=table.get_row_index(str(row.invoice_id)))
        await pilot.press("space", "e", "o")
        await wait_for_batch(pilot)
        assert sending.states[row.invoice_id] == "unknown"
        await pilot.pause(0.3)  # the states read again after the batch
        table.move_cursor(row=table.get_row_index(str(row.invoice_id)))
        await pilot.press("k")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ChoiceScreen"
        await pilot.press("d")  # it did leave
        await pilot.pause(0.3)
    last = SendRecord.select().where(SendRecord.invoice == row.invoice_id).order_by(SendRecord.id.desc()).get()
    assert last.status == "sent"


async def test_a_rectified_invoice_and_an_avoir_in_the_sending_tab(app, server, tmp_path):
    """An invoice mailed, then given the billing software's corrected PDF (--update-mailed): it reads
    « rectifiée », is ticked as unsent, says its PDF is imported, and goes with those very bytes.
    An avoir of the same period is listed as one, with a generated PDF."""
    import hashlib

    import pymupdf

    from tuiapp.db.models import Resident
    from tuiapp.services.import_pdfs import import_pdfs

    mailed = queries.send_rows(SEPTEMBER)[3]
    Invoice.update(last_mailed_at=datetime(2024, 10, 3, 9, 30, tzinfo=UTC)).where(
        Invoice.id == mailed.invoice_id).execute()
    folder = tmp_path / "pdfs"
    folder.mkdir()
    with pymupdf.open() as document:
        document.new_page().insert_text((72, 72), f"Facture corrigée {mailed.number}")
        (folder / f"{mailed.number}.pdf").write_bytes(document.tobytes())
    assert import_pdfs(folder, update_mailed=True).mailed_changed == [mailed.number]
    invoice = Invoice.get_by_id(mailed.invoice_id)
    credit = Invoice.create(resident=Resident.get_by_id(invoice.resident_id), structure=invoice.structure_id,
                            period_year=2024, period_month=9, number="AV-202409-001", kind="avoir",
                            issue_date=invoice.issue_date, amount_ht=Decimal("-120.00"))
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        for _ in range(100):
            await pilot.pause(0.02)
            if sending.loaded:
                break
        table = sending.query_one(DataTable)
        row_key = str(mailed.invoice_id)
        assert str(table.get_cell(row_key, "state")) == "rectifiée"
        assert str(table.get_cell(row_key, "marks")) == "P"  # its own PDF: "Facture, PDF importé" below
        assert str(table.get_cell(str(credit.id), "marks")) == "A"
        table.move_cursor(row=table.get_row_index(str(credit.id)))
        await pilot.pause()
        assert detail_lines(sending)[1].endswith("Avoir, PDF généré")
        assert mailed.invoice_id in sending.table.ticked and credit.id in sending.table.ticked
        assert str(sending.query_one("#send-summary").render()).endswith(", dont 1 PDF importé")
        table.move_cursor(row=table.get_row_index(row_key))
        await pilot.press("v")
        assert f"{mailed.number}" in str(app.screen.query_one("#preview-text").render())
        assert "(PDF importé)" in str(app.screen.query_one("#preview-text").render())
        await pilot.press("escape", "n", "space", "e", "o")
        await wait_for_batch(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert str(table.get_cell(row_key, "state")) == "envoyée"
    assert attachment_numbers(server) == [mailed.number]
    sent = next(server.received[0].message.iter_attachments()).get_content()
    assert hashlib.sha256(sent).digest() == hashlib.sha256((folder / f"{mailed.number}.pdf").read_bytes()).digest()


async def test_the_footer_may_ask_about_keys_before_the_screen_is_built(demo_db_file):
    """The footer asks which keys apply when it likes, the screen's tabs built or not (once, on a
    busy machine, before them: a crash that stopped the app)."""
    from tuiapp.screens.contributions import ContributionsScreen

    app = create_app(demo_db_file)
    async with app.run_test(size=(80, 24)):
        screen = ContributionsScreen()  # not shown yet: nothing composed
        assert [screen.check_action(action, ()) for action in ("print", "open_sending", "close_tab", "help")] == [
            False, False, False, True]
    db.close()
