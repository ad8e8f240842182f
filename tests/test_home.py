"""The home screen mentions the invoices left waiting (``en attente``) that nobody sends: those of an
interrupted send in local mode; in service mode, only while the sender service does not answer."""

from __future__ import annotations

from datetime import timedelta

from tests.test_screens import home_read, text_of
from tuiapp.app import create_app
from tuiapp.db import heartbeat, queries
from tuiapp.db.database import db
from tuiapp.db.fields import utcnow
from tuiapp.db.models import SendRecord
from tuiapp.domain.periods import Period
from tuiapp.screens.home import NOT_READ_YET, HomeScreen
from tuiapp.sending import outbox

SIZE = (80, 24)
SEPTEMBER = Period(2024, 9)


def leave_waiting(count: int, *, minutes_ago: int = 10) -> list[int]:
    """What a send interrupted by leaving its screen leaves: ``queued`` records, never claimed
    (queued ``minutes_ago``: a batch nobody touched since)."""
    ids = [row.invoice_id for row in queries.send_rows(SEPTEMBER)][:count]
    queued = outbox.queue_invoices(ids, operator="claire")
    assert len(queued.record_ids) + len(queued.already_active) == count
    SendRecord.update(created_at=utcnow() - timedelta(minutes=minutes_ago)).where(
        SendRecord.id.in_(queued.record_ids)).execute()
    return ids


def waiting_line(app) -> str:
    line = app.screen.query_one("#waiting")
    return str(line.render()) if line.display else ""


async def test_the_home_screen_says_what_an_interrupted_send_left_waiting_and_where_to_go(demo_db_file):
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await home_read(pilot)
            assert waiting_line(app) == ""  # nothing waits: no line
            leave_waiting(1)
            app.screen.refresh_overview()
            assert waiting_line(app).startswith("1 facture en attente, laissée par un envoi interrompu "
                                                "(septembre 2024 : 1).")
            leave_waiting(4)  # the first is already waiting: three more
            await pilot.press("c")
            await pilot.press("escape")  # back home: read again
            await pilot.pause()
            shown = waiting_line(app)
            assert shown.startswith("4 factures en attente, laissées par un envoi interrompu (septembre 2024 : 4).")
            assert "c (Contributions), la période (- et +), puis e (Envoi par mail)" in shown
    finally:
        db.close()


async def test_a_batch_still_being_sent_is_not_called_interrupted_an_idle_one_is(demo_db_file):
    """Review of issue 14: in local mode a batch is queued whole then claimed one record at a time; while
    another workstation or « tuiapp send » sends it, its waiting records were called interrupted."""
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await home_read(pilot)
            ids = [row.invoice_id for row in queries.send_rows(SEPTEMBER)][:3]
            batch = outbox.queue_invoices(ids, operator="claire")
            old = utcnow() - timedelta(hours=2)
            SendRecord.update(created_at=old).execute()  # queued two hours ago...
            first = batch.record_ids[0]
            assert outbox.claim(first, operator=None, message_id="<m1@example.org>")  # ... one claimed just now
            assert outbox.left_waiting_by_period() == []
            assert outbox.waiting_by_period() == [(SEPTEMBER, 2)]
            app.screen.refresh_overview()
            await pilot.pause()
            shown = waiting_line(app)
            assert shown.startswith("2 factures en attente d'envoi (septembre 2024 : 2) : un envoi est en cours")
            assert "interrompu" not in shown
            outbox.complete(first, "sent")  # delivered just now: the batch still moves
            assert outbox.left_waiting_by_period() == []
            SendRecord.update(started_at=old, finished_at=old).where(SendRecord.id == first).execute()
            assert outbox.left_waiting_by_period() == [(SEPTEMBER, 2)]  # nothing for two hours: left behind
            app.screen.refresh_overview()
            await pilot.pause()
            assert waiting_line(app).startswith("2 factures en attente, laissées par un envoi interrompu "
                                                "(septembre 2024 : 2).")
    finally:
        db.close()


async def test_in_service_mode_only_while_the_service_does_not_answer(demo_db_file):
    app = create_app(demo_db_file, service_mode=True)
    try:
        leave_waiting(2)
        heartbeat.beat(outbox.process_tag(), "idle")  # the service is alive: it takes them up
        async with app.run_test(size=SIZE) as pilot:
            await home_read(pilot)
            assert waiting_line(app) == ""
            heartbeat.beat(outbox.process_tag(), "stopped")
            app.screen.refresh_overview()
            await pilot.pause()
            assert waiting_line(app).startswith("2 factures en attente (septembre 2024 : 2) : "
                                                "le service d'envoi ne répond pas.")
    finally:
        db.close()


async def test_the_home_screen_is_drawn_first_and_shows_its_figures_a_moment_later(demo_db_file):
    """Its menu and keys at once; its figures (reads, and babel's French months) just after the
    first frame, « … » until then: never a figure that has not been read."""
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await home_read(pilot)
            home = HomeScreen()
            await app.push_screen(home)
            assert not home.overview_read
            assert text_of(app, "#association") == NOT_READ_YET
            assert text_of(app, "#counts") == text_of(app, "#periods") == waiting_line(app) == ""
            assert "home.contributions" in {binding.id for binding in home.BINDINGS}
            await home_read(pilot)
            assert home.overview_read
            assert text_of(app, "#association").startswith("Association Les Papillons Blancs de Flandre (démo)")
            assert "structures, " in text_of(app, "#counts")
            assert "septembre 2024" in text_of(app, "#periods")
    finally:
        db.close()
