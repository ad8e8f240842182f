"""The Factures tab while a send runs in the sending tab: it says a send is running, with its
progress, and its counts and dates follow the send (real send to the loopback server)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

import tuiapp.screens.contributions
from tests.conftest import point_at
from tests.test_contributions import SEPTEMBER, SIZE, HeldReply, send_held, wait_for_batch
from tuiapp.app import create_app
from tuiapp.db import queries
from tuiapp.db.database import db


@pytest.fixture
def app(demo_db_file, server, monkeypatch):
    monkeypatch.setattr(tuiapp.screens.contributions, "FOLLOW_SEND_EVERY", 0.1)
    application = create_app(demo_db_file)
    point_at(server)
    yield application
    db.close()


def text(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render()) if widget.display else ""


async def wait_for(pilot, condition, what: str) -> None:
    for _ in range(100):  # 2 s at most
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(what)


async def test_the_factures_tab_follows_a_running_send(app, server):
    before = queries.period_overview(SEPTEMBER)
    unmailed = {invoice.id for invoice in queries.invoices_of_period(SEPTEMBER) if invoice.last_mailed_at is None}
    reply = HeldReply(server)
    async with app.run_test(size=SIZE) as pilot:
        sending = await send_held(pilot, reply, 4)  # four invoices; the first sent, the second on the wire
        await pilot.press("escape")  # back to the Factures tab, the send going on
        await wait_for(pilot, lambda: text(app, "#send-state").startswith("Envoi en cours"), "no send shown")
        assert text(app, "#send-state") == "Envoi en cours : 1 facture traitée sur 4 (septembre 2024)."
        await wait_for(pilot, lambda: f"({before.mailed + 1} envoyée" in text(app, "#summary"),
                       f"the counts stayed: {text(app, '#summary')}")
        table = app.screen.query_one("#invoices", DataTable)
        first_sent = [row.invoice_id for row in queries.send_rows(SEPTEMBER)
                      if row.invoice_id in unmailed and row.last_mailed_at is not None]
        assert len(first_sent) == 1
        assert str(table.get_row(str(first_sent[0]))[4]) != ""  # its "Envoi mail" date, in place
        reply.release()
        await wait_for_batch(pilot)
        assert not sending.sending
        await wait_for(pilot, lambda: text(app, "#send-state") == "", "the send still shown after its end")
        await wait_for(pilot, lambda: f"({before.mailed + 4} envoyées)" in text(app, "#summary"),
                       f"the counts stayed: {text(app, '#summary')}")


async def test_a_big_period_shows_its_first_rows_then_all_in_order_and_coming_back_keeps_the_cursor(app):
    expected = [str(invoice.id) for invoice in queries.invoices_of_period(SEPTEMBER)]
    assert len(expected) > tuiapp.screens.contributions.FIRST_ROWS  # read in two parts
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "minus")
        table = app.screen.query_one("#invoices", DataTable)
        await wait_for(pilot, lambda: table.row_count == len(expected), f"{table.row_count} rows")
        assert [key.value for key in table.rows] == expected
        await pilot.press("down", "down", "down", "e")  # the sending tab, then back
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert table.cursor_row == 3 and table.row_count == len(expected)


async def test_leaving_while_the_rows_are_read_is_harmless(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "minus", "escape")  # gone before the rest of the rows is read
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert app.screen.__class__.__name__ == "HomeScreen"
