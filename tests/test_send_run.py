"""A send as the operator follows it at 80x24: the progress line (the batch's count, a server
down, the pace's countdown), Ctrl+C, the structures without a sender, and the send's French."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import Input, ProgressBar

from tests.cli_runner import run_cli as tuiapp
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
from tuiapp.db.models import Association, Invoice, SendRecord, Structure
from tuiapp.domain.formatting import counted, format_wait
from tuiapp.mail.problems import ServerUnreachable
from tuiapp.sending import events as ev
from tuiapp.sending import wording, workflow
from tuiapp.widgets.send_progress import RunProgress
from tuiapp.widgets.send_stop import STOP_QUESTION


@pytest.fixture
def app(demo_db_file, server):
    application = create_app(demo_db_file)
    point_at(server)
    yield application
    db.close()


def label(app) -> str:
    return str(panel(app).query_one("#progress-label").render())


async def until(pilot, condition, seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("not within the time")


# -- the progress line, as text -------------------------------------------------------------


def ref(number: int) -> ev.InvoiceRef:
    return ev.InvoiceRef(number, number, f"F-{number}", "MAILLY Josiane", ("j@example.org",))


def test_a_server_down_shows_the_batch_and_the_retry_counting_down():
    progress = RunProgress()
    progress.start(101, now=0.0)
    progress.follow(ev.BatchStarted("b", 101), 0.0)
    progress.follow(ev.InvoiceClaimed(ref(1)), 0.1)
    progress.follow(ev.RetryScheduled(ref(1), ServerUnreachable(), 1, 20.0), 0.2)
    assert progress.text(0.2) == "0/101 traitée, serveur injoignable, nouvel essai dans 20 s"
    assert progress.text(12.0) == "0/101 traitée, serveur injoignable, nouvel essai dans 9 s"  # counts down
    progress.follow(ev.BatchStopped(ServerUnreachable(), 101), 40.0)
    progress.follow(ev.BatchFinished("b", remaining=101, stopped=ServerUnreachable()), 40.0)
    assert progress.text(41.0) == "Envoi arrêté : 0/101 traitée, 101 en attente"


def test_the_pace_shows_the_next_message_and_the_time_left_counts_down():
    progress = RunProgress()
    progress.start(101, now=0.0, interval=60 / 30)  # 30 messages a minute
    for number in range(1, 31):  # 30 messages in 30 s, then the server's limit: 40 s of pause
        progress.follow(ev.InvoiceSent(ref(number), "250 OK", "<id>"), float(number))
    left = 71 * 60 / 30  # 142 s: the limit's pace, slower than the pace so far
    assert progress.text(30.0) == f"30/101 traitées, environ {format_wait(left)} restantes"
    progress.follow(ev.PacingWait(40.0), 30.0)
    assert progress.text(30.0) == "30/101 traitées, prochain message dans 40 s, reste 2 min 22 s"
    assert progress.text(58.0) == "30/101 traitées, prochain message dans 12 s, reste 1 min 54 s"
    progress.follow(ev.InvoiceClaimed(ref(31)), 70.0)  # the pause is over
    assert "prochain message" not in progress.text(70.0)
    assert len("100/101 traitées, prochain message dans 40 s, reste 12 min 05 s") <= 64  # beside the bar


def test_a_wait_is_never_said_to_last_0_s():
    assert wording.describe(ev.PacingWait(0.3)) == "Limite de messages par minute : pause de 1 s."
    assert wording.describe(ev.PacingWait(39.2)) == "Limite de messages par minute : pause de 40 s."
    renewed = wording.describe(ev.RetryScheduled(None, ServerUnreachable(), 1, 0.0))
    assert renewed.endswith("Nouvel essai immédiat (essai 2).") and "0 s" not in renewed
    assert format_wait(0) == "1 s" and format_wait(61) == "1 min 01 s"


# -- the confirmation and the log's counts ---------------------------------------------------


def row(invoice_id: int, *, mailed: bool = False, queued: bool = False) -> queries.SendRow:
    from datetime import UTC, datetime

    return queries.SendRow(invoice_id, "MAILLY Josiane", f"F-{invoice_id}", Decimal("10"),
                           datetime(2024, 10, 3, tzinfo=UTC) if mailed else None, None, "j@example.org", None,
                           "queued" if queued else None, None, 100 + invoice_id if queued else None)


def question(*items: workflow.Item) -> str:
    return workflow.Plan(items=list(items)).question()


def test_the_confirmation_speaks_of_one_invoice_in_the_singular():
    assert question(workflow.Item(row(1), resend=True)) == (
        "Envoyer 1 facture à 1 adresse ?\nElle a déjà été envoyée et part une nouvelle fois.")
    nine = [workflow.Item(row(i)) for i in range(2, 10)]
    assert question(workflow.Item(row(1), resend=True), *nine).endswith(
        "\nSur ces 9 factures, 1 a déjà été envoyée et part une nouvelle fois.")


def test_the_confirmation_gives_one_total_never_two_to_add_up():
    resumed = [workflow.Item(row(i, queued=True)) for i in range(88)]
    assert question(*resumed) == ("Envoyer 88 factures à 88 adresses ?\n"
                                  "Toutes les 88 reprennent un envoi resté en attente.")
    assert question(*resumed[:12], *[workflow.Item(row(i)) for i in range(100, 176)]).endswith(
        "\nSur ces 88 factures, 12 reprennent un envoi resté en attente.")


def test_the_log_counts_agree_with_their_number():
    assert wording.summary(ev.BatchFinished("b", sent=1, failed=1, remaining=1)) == (
        "Envoi terminé : 1 envoyée, 1 échec, 1 en attente.")
    assert wording.summary(ev.BatchFinished("b", sent=0, unknown=2, cancelled=True)) == (
        "Envoi annulé : 0 envoyée, 2 états inconnus.")
    assert wording.describe(ev.BatchStarted("b", 1)) == "Début de l'envoi : 1 facture."
    stopped = wording.describe(ev.BatchStopped(ServerUnreachable(), 1))
    assert stopped.endswith("1 facture reste en attente.")
    assert workflow.describe(workflow.Withdrawn(1)) == ["1 facture non envoyée retirée de la file d'attente."]
    assert counted(0, "facture", "factures") == "0 facture"  # French: 0 and 1 take the singular


# -- at 80x24, against a real server ------------------------------------------------------------


async def test_a_server_down_shows_the_new_batch_not_the_last_runs_count(app, server):
    """The walkthrough's `1/1 traitée(s) ... 0%` over a batch of 101: the line said the last run."""
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("n", "space", "e", "o")  # one invoice, sent
        await wait_for_batch(pilot)
        assert label(app) == "1/1 traitée"
        server.stop()  # the server goes down
        await pilot.press("a", "e", "o")  # every other invoice
        total = len(sending.table.invoices)  # the one sent too: ticked, it goes again
        await until(pilot, lambda: "serveur injoignable" in label(app))
        assert label(app).startswith(f"0/{total} traitée, serveur injoignable, nouvel essai dans ")
        assert sending.query_one(ProgressBar).total == total
        await pilot.press("c")  # the operator gives up: nothing waits for the retry
        await wait_for_batch(pilot)
        assert label(app) == f"Envoi annulé : 0/{total} traitée"


async def test_the_pause_of_the_pace_counts_down_to_the_next_message(app, server, monkeypatch):
    """One message per 2 s (the tests' window): the line counts the pause down every second."""
    monkeypatch.setenv("TUIAPP_PACING_WINDOW", "2")
    association = Association.get_solo()
    association.smtp_rate_per_minute = 1
    association.save()
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("n", "space", "space", "e", "o")
        seen = set()
        width = 0
        for _ in range(200):  # the pause lasts about 2 s
            seen.add(label(app))
            width = panel(app).query_one("#progress-label").size.width
            if not sending.sending:
                break
            await pilot.pause(0.02)
        assert len(server.received) == 2
        pauses = {text.split(", ")[1] for text in seen if "prochain message" in text}
        assert pauses == {"prochain message dans 2 s", "prochain message dans 1 s"}, seen  # from the timer
        assert width >= 64  # the longest line fits beside the bar at 80 columns
        assert any(line.endswith("Limite de messages par minute : pause de 2 s.") for line in sending.log_texts)
        assert not any("0 s" in line for line in sending.log_texts)


async def test_ctrl_c_during_a_send_asks_then_stops_it(app, server):
    reply = HeldReply(server)
    async with app.run_test(size=SIZE) as pilot:
        sending = await send_held(pilot, reply, 6)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        assert str(app.screen.query_one("#question").render()) == STOP_QUESTION
        await pilot.press("n")  # no: it goes on
        assert sending.sending and not sending._stop.is_set()
        await pilot.press("ctrl+c", "o")
        reply.release()
        await wait_for_batch(pilot)
        assert len(server.received) == 2  # the message on the wire, then no other
        assert any("Envoi annulé : 2 envoyées" in line for line in sending.log_texts)


async def test_ctrl_c_in_a_text_field_of_the_tab_copies(app, server):
    reply = HeldReply(server)
    async with app.run_test(size=SIZE) as pilot:
        sending = await send_held(pilot, reply, 4)
        field = Input("FAM-202409", id="search-test")  # a text field inside the tab (the search, say)
        await sending.mount(field)
        field.focus()
        field.select_all()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ContributionsScreen"  # not asked: copied
        assert app.clipboard == "FAM-202409"
        assert sending.sending and not sending._stop.is_set()
        reply.release()
        await wait_for_batch(pilot)
    assert len(server.received) == 4


def without_sender(code: str) -> Structure:
    structure = Structure.get(Structure.code == code)
    structure.sender_email = None
    structure.save()
    return structure


async def test_the_confirmation_lists_the_structures_without_sender_and_skips_them(app, server):
    fam = without_sender("FAM")
    theirs = {row.number for row in queries.send_rows(SEPTEMBER, fam)}
    assert theirs
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        others = len(sending.table.ticked) - len(theirs)  # every invoice ticked
        await pilot.press("e")
        await pilot.pause()
        asked = str(app.screen.query_one("#question").render())
        assert asked.startswith(f"Envoyer {others} factures")
        assert (f"Cette structure n'a pas d'adresse d'expéditeur : FAM - FAM La Roseraie. {len(theirs)} factures "
                "non envoyées (renseignez l'adresse dans Structures).") in asked
        await pilot.press("o")
        await wait_for_batch(pilot)
    assert len(server.received) == others
    queued_of_fam = SendRecord.select().join(Invoice).where(Invoice.structure == fam, SendRecord.operator != "demo")
    assert queued_of_fam.count() == 0  # never queued


async def test_a_tick_of_only_structures_without_sender_asks_nothing(app, server):
    without_sender("FAM")
    without_sender("FH")
    without_sender("EHPAD")
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ContributionsScreen"
        assert not panel(app).sending
        notices = [notice.message for notice in app._notifications]
        assert any(text.startswith("Aucune facture à envoyer.\nCes structures n'ont pas d'adresse d'expéditeur")
                   for text in notices), notices
    assert server.received == []


def test_the_cli_says_which_structures_have_no_sender_and_sends_the_others(demo_db, demo_db_file, server):
    db_args = ["--db", str(demo_db_file)]
    point_at(server)
    fam = without_sender("FAM")
    theirs = len(queries.send_rows(SEPTEMBER, fam))
    others = len(queries.send_rows(SEPTEMBER)) - theirs
    db.close()
    result = tuiapp("send", *db_args, "--period", "2024-09", "--yes")
    assert result.returncode == 0, result.stderr
    assert (f"Cette structure n'a pas d'adresse d'expéditeur : FAM - FAM La Roseraie. {theirs} factures non "
            "envoyées") in result.stderr
    assert len(server.received) == others


async def test_the_full_collections_wait_for_the_end_of_the_batch(app, server):
    """The collector's full passes held the event loop for 100 to 400 ms during a batch: deferred
    while it runs, the thresholds back after, and nothing frozen then (the batch's garbage with
    the rest: kept until the tab closed)."""
    import gc

    from tuiapp.widgets.send_run import FullCollectionsDeferred

    before = gc.get_threshold()
    reply = HeldReply(server)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await send_held(pilot, reply, 2)
            assert gc.get_threshold() == (*before[:2], FullCollectionsDeferred.DEFERRED)
            frozen = gc.get_freeze_count()
            reply.release()
            await wait_for_batch(pilot)
            assert gc.get_threshold() == before
            assert gc.get_freeze_count() <= frozen  # (frozen objects freed meanwhile leave it)
    finally:
        gc.set_threshold(*before)
        gc.collect()
        gc.freeze()  # as the test process keeps it (tests/conftest.py)


async def test_service_mode_queues_none_of_a_structure_without_sender(demo_db, demo_db_file):
    """On the association's server the tab only queues: the same plan, so the same rule."""
    fam = without_sender("FAM")
    theirs = {row.invoice_id for row in queries.send_rows(SEPTEMBER, fam)}
    db.close()
    app = create_app(demo_db_file, service_mode=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("e")
        await pilot.pause()
        assert "Cette structure n'a pas d'adresse d'expéditeur : FAM - FAM La Roseraie." in str(
            app.screen.query_one("#question").render())
        await pilot.press("o")
        await until(pilot, lambda: any("en file d'attente" in line for line in sending.log_texts))
        queued = {record.invoice_id for record in SendRecord.select().where(SendRecord.status == "queued")}
        assert queued and not queued & theirs
        await pilot.press("c")  # nobody sends here: withdrawn
        await wait_for_batch(pilot)


async def test_leaving_during_a_batch_gives_the_collector_back_everything(app, server):
    import gc

    before = gc.get_threshold()
    gc.unfreeze()  # (the test process freezes its imports' objects: tests/conftest.py)
    reply = HeldReply(server)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await send_held(pilot, reply, 2)
            await pilot.press("escape", "escape", "o")  # to the invoices, leave the screen, yes
            await pilot.pause()
            assert app.screen.__class__.__name__ == "HomeScreen"
            assert gc.get_threshold() == before and gc.get_freeze_count() == 0
            reply.release()
    finally:
        gc.set_threshold(*before)
        gc.collect()
        gc.freeze()
