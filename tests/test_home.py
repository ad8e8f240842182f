"""The home screen mentions the invoices left waiting (``en attente``) that nobody sends: those of an
interrupted send in local mode; in service mode, only while the sender service does not answer."""

from __future__ import annotations

from tuiapp.app import create_app
from tuiapp.db import heartbeat, queries
from tuiapp.db.database import db
from tuiapp.domain.periods import Period
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
            assert waiting_line(app) == ""
            heartbeat.beat(outbox.process_tag(), "stopped")
            app.screen.refresh_overview()
            await pilot.pause()
            assert waiting_line(app).startswith("2 factures en attente (septembre 2024 : 2) : "
                                                "le service d'envoi ne répond pas.")
    finally:
        db.close()
