"""The sending tab at 80x24: its reads of the states in the background, and the stop question."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from tests.conftest import point_at
from tests.test_contributions import (
    SEPTEMBER,
    SIZE,
    HeldReply,
    open_september_sending_tab,
    panel,
    send_held,
    wait_for_batch,
)
from tuiapp.app import create_app
from tuiapp.db import queries
from tuiapp.db.database import db
from tuiapp.widgets.send_stop import SEND_OVER, STOP_QUESTION


@pytest.fixture
def app(demo_db_file, server):
    application = create_app(demo_db_file)
    point_at(server)
    yield application
    db.close()


async def until(pilot, condition, seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("not within the time")


async def test_an_older_read_of_the_states_arriving_last_is_dropped(app, monkeypatch):
    """A thread worker cannot be stopped: the read a newer one replaced still posted its rows,
    and when it came last the table showed the older states."""
    read = queries.send_rows
    first = next(row for row in read(SEPTEMBER) if not row.send_status)
    started, release, posted = threading.Event(), threading.Event(), threading.Event()
    calls = []

    def send_rows(period, structure_id=None):
        calls.append(period)
        rows = read(period, structure_id)
        if len(calls) == 1:  # the older read: slow, and what it saw has changed since
            started.set()
            release.wait(5)
            return [replace(row, send_status="sent") if row.invoice_id == first.invoice_id else row
                    for row in rows]
        return rows

    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await until(pilot, lambda: sending.loaded)
        await pilot.pause(0.1)  # the opening's read done
        monkeypatch.setattr(queries, "send_rows", send_rows)
        post = sending.post_message

        def post_message(message):
            result = post(message)
            if isinstance(message, sending.StatesRead) and message.rows and len(calls) >= 2 and any(
                    row.send_status == "sent" for row in message.rows if row.invoice_id == first.invoice_id):
                posted.set()
            return result

        monkeypatch.setattr(sending, "post_message", post_message)
        sending._read_states()
        await until(pilot, started.is_set)
        sending._read_states()  # the newer read, done first
        await until(pilot, lambda: len(calls) == 2)
        await pilot.pause(0.1)
        assert sending.states[first.invoice_id] == ""
        release.set()
        await until(pilot, posted.is_set)
        for _ in range(3):
            await pilot.pause(0.05)
        assert sending.states[first.invoice_id] == ""  # not the older read's "sent"


def notifications(app) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_the_stop_question_closes_when_the_send_ends(app, server):
    """The batch ended while « Arrêter l'envoi ? » was open: a yes then stopped nothing, silently."""
    reply = HeldReply(server)
    async with app.run_test(size=SIZE) as pilot:
        sending = await send_held(pilot, reply, 2)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert str(app.screen.query_one("#question").render()) == STOP_QUESTION
        reply.release()
        await wait_for_batch(pilot)
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ContributionsScreen"  # the question has gone
        assert SEND_OVER in notifications(app)
        assert len(server.received) == 2
        assert not any("Arrêt demandé" in line for line in sending.log_texts)


async def test_a_yes_to_the_stop_question_of_an_ended_send_stops_nothing(app, server):
    """Under another window the question cannot close: answered after the end, it says so."""
    from tuiapp.widgets.dialogs import PreviewScreen

    reply = HeldReply(server)
    async with app.run_test(size=SIZE) as pilot:
        sending = await send_held(pilot, reply, 2)
        await pilot.press("ctrl+c")
        await pilot.pause()
        await app.push_screen(PreviewScreen("Aperçu", "texte"))  # over the question
        reply.release()
        await until(pilot, lambda: not sending.sending, 5)
        app.pop_screen()
        await pilot.pause()
        assert str(app.screen.query_one("#question").render()) == STOP_QUESTION
        await pilot.press("o")
        await pilot.pause()
        assert SEND_OVER in notifications(app)
        assert not any("Arrêt demandé" in line for line in sending.log_texts)


def every_progress_line(width: int) -> list[str]:
    """The progress line in each of its states, with 3-digit counts, the longest waits the
    settings give and hours left (100 of 999 invoices, at one a minute: 14 h 59 min)."""
    from tuiapp.domain import timing
    from tuiapp.mail.problems import MessageDeferred, ServerUnreachable, TransientFailure
    from tuiapp.sending import events as ev
    from tuiapp.widgets.send_progress import RunProgress

    def progress() -> RunProgress:
        run = RunProgress()
        run.start(999, now=0.0, interval=60.0)
        run.follow(ev.BatchStarted("b", 999), 0.0)
        for number in range(1, 101):
            run.follow(ev.InvoiceSent(ev.InvoiceRef(number, number, f"F-{number}", "MAILLY Josiane",
                                                    ("j@example.org",)), "250 OK", "<id>"), 1.0)
        return run

    lines = []
    retry = max(timing.RETRY_DELAYS)
    for problem in (ServerUnreachable(), TransientFailure(421), MessageDeferred(452)):
        run = progress()
        run.follow(ev.RetryScheduled(None, problem, 1, retry), 1.0)
        lines.append(run.text(1.0, width))
    for pause in (timing.pacing_window(), 40.0):
        run = progress()
        run.follow(ev.PacingWait(pause), 1.0)
        lines.append(run.text(1.0, width))
    lines.append(progress().text(1.0, width))  # no pause: « environ … restantes »
    for finished in (ev.BatchFinished("b", remaining=999, interrupted=True),
                     ev.BatchFinished("b", remaining=999, cancelled=True)):
        run = progress()
        run.follow(finished, 1.0)
        lines.append(run.text(1.0, width))
    return lines


async def test_every_progress_line_fits_beside_the_bar_at_80_columns(app):
    """« 30/101 traitées, serveur indisponible, nouvel essai dans 20 s, reste 12 min 30 s »: 80
    characters in a label of 64 columns, cut."""
    from tuiapp.widgets.send_progress import WIDTH

    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        sending.add_class("-has-run")  # the row as a batch shows it
        await pilot.pause()
        width = sending.query_one("#progress-label").size.width
    assert WIDTH <= width
    lines = every_progress_line(width)
    assert [line for line in lines if len(line) > width] == [], width
    assert lines[0] == "100/999 traitées, serveur injoignable, nouvel essai dans 20 s"  # the time left unknown
    assert lines[4].endswith(", reste 14 h 59 min")  # said during the pace's pause when it fits
    assert "reste" not in lines[3]  # a pause of a minute and hours left: too long
    assert all("reste" not in line for line in every_progress_line(WIDTH)[:4])
