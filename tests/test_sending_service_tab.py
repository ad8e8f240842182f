"""The sending tab on the association's server (service mode): it only queues, then shows the sender
service's per-invoice states and its heartbeat, live; cancelling withdraws this operator's invoices."""

from __future__ import annotations

import os
import signal

import pytest
from textual.widgets import Static

from tests.test_contributions import SIZE, detail_lines, open_september_sending_tab, panel
from tests.test_send_faults import keep
from tests.test_sender_service import FAST, configure, finish, records, sender
from tuiapp.app import create_app
from tuiapp.db.database import release

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="the service trusts only a root-owned configuration")


async def wait_until(pilot, condition, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def shown(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def queue_and_follow(app, pilot, numbers: list[str]):
    """In September's sending tab, once the service says it runs: tick the invoices never mailed,
    queue them, and follow the service until the tab says each of ``numbers`` was sent; the panel."""
    await open_september_sending_tab(pilot)
    sending = panel(app)
    await wait_until(pilot, lambda: "Service d'envoi en marche." in shown(app, "#service"))
    await pilot.press("e")  # the invoices never mailed are ticked
    await pilot.pause()
    await pilot.press("o")
    await wait_until(pilot, lambda: not sending.sending)
    for number in numbers:
        assert any(f"Facture {number} (" in line and ") : envoyée." in line for line in sending.log_texts)
    by_number = {row.number: invoice_id for invoice_id, row in sending.table.invoices.items()}
    assert all(sending.states[by_number[number]] == "sent" for number in numbers)
    return sending


async def test_the_tab_queues_and_follows_the_service_live(demo_db_file, server, tmp_path, monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    config = configure(tmp_path, demo_db_file, server)
    numbers = keep(demo_db_file, 3)
    service = sender(config)
    app = create_app(demo_db_file, service_mode=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            sending = await queue_and_follow(app, pilot, numbers)
            assert any("3 factures en file d'attente : le service d'envoi les enverra." in line
                       for line in sending.log_texts)
            assert shown(app, "#progress-label") == "3/3 traitées"
            assert len(server.received) == 3

            service.send_signal(signal.SIGTERM)
            finish(service)
            await wait_until(pilot, lambda: "Service d'envoi arrêté depuis" in shown(app, "#service"), 5)
            assert "prévenez l'administrateur" in shown(app, "#service")
    finally:
        if service.poll() is None:
            service.kill()
        release()
    assert {records(demo_db_file)[n][0] for n in numbers} == {"sent"}


async def test_cancel_withdraws_this_operators_invoices_not_sent_yet(demo_db_file, server, tmp_path, monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    configure(tmp_path, demo_db_file, server)
    numbers = keep(demo_db_file, 3)
    app = create_app(demo_db_file, service_mode=True)  # no service running: the invoices wait
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_september_sending_tab(pilot)
            sending = panel(app)
            await wait_until(pilot, lambda: "jamais démarré" in shown(app, "#service"))
            await pilot.press("e")
            await pilot.pause()
            await pilot.press("o")
            await wait_until(pilot, lambda: sending.sending and any("en file d'attente" in line
                                                                    for line in sending.log_texts))
            # each queued invoice says its place in the service's queue, under the table
            places = set()
            for _ in numbers:
                await pilot.press("g")  # the next invoice not mailed: one of the three queued
                await wait_until(pilot, lambda: detail_lines(sending)[2].endswith(" dans la file d'envoi"))
                places.add(detail_lines(sending)[2].split()[-5])  # "2e" of "2e dans la file d'envoi"
            assert places == {"1re", "2e", "3e"}
            await pilot.press("c")
            await wait_until(pilot, lambda: not sending.sending)
            assert any("3 factures non envoyées retirées de la file d'attente." in line
                       for line in sending.log_texts)
    finally:
        release()
    assert all(number not in records(demo_db_file) or records(demo_db_file)[number][0] != "queued"
               for number in numbers)
    assert server.received == []
