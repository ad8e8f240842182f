"""The home screen mentions the invoices left waiting (``en attente``) that nobody sends: those of an
interrupted send in local mode; in service mode, only while the sender service does not answer."""

from __future__ import annotations

from tests.test_screens import home_read, text_of
from tuiapp.app import create_app
from tuiapp.db import heartbeat, queries
from tuiapp.db.database import db
from tuiapp.domain.periods import Period
from tuiapp.screens.home import NOT_READ_YET, HomeScreen
from tuiapp.sending import outbox

SIZE = (80, 24)
SEPTEMBER = Period(2024, 9)


def leave_waiting(count: int) -> list[int]:
    """What a send interrupted by leaving its screen leaves: ``queued`` records, never claimed."""
    ids = [row.invoice_id for row in queries.send_rows(SEPTEMBER)][:count]
    queued = outbox.queue_invoices(ids, operator="claire")
    assert len(queued.record_ids) + len(queued.already_active) == count
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
