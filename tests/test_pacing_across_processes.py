"""The limits of one mail account held across processes (``tuiapp.sending.pacing``): the
slots and connection places on a real base (an SQLite file; PostgreSQL in its pass), then three
real ``tuiapp send`` processes against the loopback server."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import point_at
from tests.test_cli_send import PERIOD, delivered, statuses
from tests.test_send_engine import FakeClock, september
from tests.test_send_faults import keep
from tuiapp.db.database import open_database, release
from tuiapp.db.models import Association, SendRecord
from tuiapp.db.sending_models import SendSlot, SmtpConnectionRow
from tuiapp.mail.authenticators import authenticator_for
from tuiapp.mail.smtp_client import SmtpSettings
from tuiapp.sending import events as ev
from tuiapp.sending import outbox, pacing, wording
from tuiapp.sending.engine import SendEngine

ACCOUNT = "smtp.office365.com:587:facturation@example.org"
FOREIGN = "other-workstation:4242:1"  # a process of another machine: never known gone


def dead_tag() -> str:
    """The tag of a process of this machine that has ended."""
    code = "from tuiapp.sending.outbox import process_tag; print(process_tag())"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_account_is_the_server_and_the_user_lower_cased():
    settings = SmtpSettings(host="SMTP.Office365.com", port=587, username="Facturation@Example.org")
    assert settings.account == ACCOUNT
    assert SmtpSettings(host="smtp.office365.com", username="autre@example.org").account != ACCOUNT


def test_connection_limit_setting(monkeypatch):
    assert SmtpSettings(host="h").connection_limit == 3
    monkeypatch.setenv("TUIAPP_SMTP_CONNECTIONS", "1")
    assert SmtpSettings(host="h").connection_limit == 1
    monkeypatch.setenv("TUIAPP_SMTP_CONNECTIONS", "beaucoup")
    assert SmtpSettings(host="h").connection_limit == 3


def test_slots_hold_the_rate_in_the_window(database):
    first, _ = pacing.take_slot(ACCOUNT, 2, 10.0, 100.0)
    second, _ = pacing.take_slot(ACCOUNT, 2, 10.0, 101.0)
    assert first and second
    # both in flight: their messages may reach the server now or later, a whole window to wait
    assert pacing.take_slot(ACCOUNT, 2, 10.0, 102.0) == (None, 10.0)
    assert pacing.take_slot("other:587:account", 2, 10.0, 102.0)[0] is not None  # per account
    pacing.stamp_slot(first, 100.5)
    pacing.stamp_slot(second, 101.0)
    assert pacing.take_slot(ACCOUNT, 2, 10.0, 102.0) == (None, 8.5)  # the oldest answer + window - now
    third, _ = pacing.take_slot(ACCOUNT, 2, 10.0, 110.5)
    assert third is not None
    assert SendSlot.get_or_none(SendSlot.id == first) is None  # out of the window: deleted
    pacing.drop_slot(third)  # not used: it no longer counts
    assert pacing.take_slot(ACCOUNT, 2, 10.0, 110.5)[0] is not None


def test_slots_in_flight_of_gone_processes_count_by_their_reservation(database):
    SendSlot.create(account=ACCOUNT, holder=dead_tag(), reserved_at=100.0)
    SendSlot.create(account=ACCOUNT, holder=FOREIGN, reserved_at=100.0)
    # the dead one counts until its window ends, the foreign one as in flight
    assert pacing.take_slot(ACCOUNT, 2, 10.0, 105.0) == (None, 5.0)
    granted, _ = pacing.take_slot(ACCOUNT, 2, 10.0, 110.0)
    assert granted is not None
    assert [slot.holder for slot in SendSlot.select().order_by(SendSlot.id)] == [FOREIGN, outbox.process_tag()]


def test_connection_places(database, monkeypatch):
    monkeypatch.setenv("TUIAPP_SMTP_CONNECTION_LEASE", "60")
    first = pacing.take_place(ACCOUNT, 2, 100.0)
    second = pacing.take_place(ACCOUNT, 2, 100.0)
    assert first and second and pacing.take_place(ACCOUNT, 2, 101.0) is None
    assert pacing.take_place("other:587:account", 2, 101.0) is not None
    pacing.give_back(first)
    third = pacing.take_place(ACCOUNT, 2, 101.0)
    assert third is not None
    # rows that no longer count: a dead process's, another machine's not refreshed within the lease
    pacing.give_back(second)
    pacing.give_back(third)
    SmtpConnectionRow.create(account=ACCOUNT, holder=dead_tag(), opened_at=100.0, refreshed_at=100.0)
    SmtpConnectionRow.create(account=ACCOUNT, holder=FOREIGN, opened_at=10.0, refreshed_at=40.0)
    SmtpConnectionRow.create(account=ACCOUNT, holder=FOREIGN, opened_at=10.0, refreshed_at=50.0)
    assert pacing.take_place(ACCOUNT, 2, 105.0) is not None  # only the one refreshed at 50 counts
    assert pacing.take_place(ACCOUNT, 2, 105.0) is None
    assert SmtpConnectionRow.select().where(SmtpConnectionRow.account == ACCOUNT).count() == 2
    assert pacing.take_place(ACCOUNT, 2, 111.0) is not None  # its lease ran out


_RACE = """
import sys
from tuiapp.db.database import open_database
from tuiapp.domain.db_target import parse_target
from tuiapp.sending import pacing
open_database(parse_target(sys.argv[1]))
print(sum(pacing.take_slot("race", 5, 60.0, float(sys.argv[2]))[0] is not None for _ in range(5)))
"""


def test_processes_racing_for_slots_never_get_more_than_the_rate(database, db_arg):
    now = time.time()
    racers = [subprocess.Popen([sys.executable, "-c", _RACE, db_arg, str(now)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [racer.communicate(timeout=60) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * 4, outputs
    assert sum(int(out) for out, _ in outputs) == 5
    assert SendSlot.select().where(SendSlot.account == "race").count() == 5


@pytest.fixture
def paced_db(demo_db, server):
    point_at(server)
    return demo_db


def test_the_engine_waits_for_a_free_connection(paced_db, server, monkeypatch):
    monkeypatch.setenv("TUIAPP_SMTP_CONNECTION_RETRY", "5")
    clock, events = FakeClock(), []
    settings = SmtpSettings.from_association(Association.get_solo())
    busy = [SmtpConnectionRow.create(account=settings.account, holder=FOREIGN, opened_at=clock(),
                                     refreshed_at=clock()) for _ in range(3)]

    def wait(seconds):
        if len(clock.waits) == 2:  # another workstation closes one of its connections
            busy[0].delete_instance()
        return clock.wait(seconds)

    queued = outbox.queue_invoices([invoice.id for invoice in september(2)], operator="marie")
    engine = SendEngine(settings, authenticator_for(settings), operator="marie", on_event=events.append,
                        clock=clock, wait=wait)
    summary = engine.run(queued.record_ids, batch=queued.batch)
    assert summary.sent == 2 and len(server.received) == 2 and clock.waits == [5.0, 5.0, 5.0]
    [told] = [event for event in events if isinstance(event, ev.ConnectionWait)]  # said once
    assert wording.describe(told).startswith("Limite de 3 connexions simultanées au serveur atteinte")
    assert SmtpConnectionRow.select().count() == 2  # its own given back


def test_cancel_while_waiting_for_a_connection_leaves_the_invoice_queued(paced_db, server, monkeypatch):
    monkeypatch.setenv("TUIAPP_SMTP_CONNECTIONS", "1")
    settings = SmtpSettings.from_association(Association.get_solo())
    SmtpConnectionRow.create(account=settings.account, holder=FOREIGN, opened_at=time.time(),
                             refreshed_at=time.time())
    queued = outbox.queue_invoices([invoice.id for invoice in september(1)], operator="marie")
    engine = SendEngine(settings, authenticator_for(settings), operator="marie", wait=lambda seconds: True)
    summary = engine.run(queued.record_ids, batch=queued.batch)
    assert summary.interrupted and summary.remaining == 1 and server.received == []
    assert statuses(paced_db) == {"queued": 1}


def test_every_attempt_takes_a_slot_and_an_unused_one_goes(paced_db, server):
    """A refused attempt counts toward the rate like a message; the slot of an invoice
    claimed elsewhere meanwhile is given back. No slot is left in flight."""
    association = Association.get_solo()
    association.smtp_rate_per_minute = 2
    association.save()
    settings = SmtpSettings.from_association(association)
    server.faults.data_replies = ["451 4.3.0 Try later"]  # the first attempt: tried again after 5 s
    invoices = september(3)
    queued = outbox.queue_invoices([invoice.id for invoice in invoices], operator="marie")
    SendRecord.update(status="sending").where(SendRecord.id == queued.record_ids[2]).execute()  # taken elsewhere
    clock, events = FakeClock(), []
    engine = SendEngine(settings, authenticator_for(settings), operator="marie", on_event=events.append,
                        clock=clock, wait=clock.wait)
    summary = engine.run(queued.record_ids, batch=queued.batch)
    assert summary.sent == 2 and summary.skipped == 1 and len(server.received) == 2
    # three attempts at 2 per window: the third waited for the window to pass (55 s), and the
    # invoice taken elsewhere for the second's (5 s: the pace comes before the claim)
    assert clock.waits == [5.0, 55.0, 5.0] and any(isinstance(event, ev.PacingWait) for event in events)
    slots = list(SendSlot.select())
    assert [slot.sent_at for slot in slots] == [1060.0]  # the third's; the first two left the window, the last went


def never_more_than(rate, window, times):
    for index, start in enumerate(times):
        assert sum(1 for t in times[index:] if t - start < window) <= rate, (start, times)


def test_three_processes_keep_the_rate_and_the_connection_limit(demo_db_file, server):
    """Three ``tuiapp send`` at once on one database, 3 messages per 1.5 s, 2 connections:
    the server never sees more, and every invoice once."""
    rate, window, limit = 3, 1.5, 2
    open_database(demo_db_file)
    try:
        point_at(server)
        association = Association.get_solo()
        association.smtp_rate_per_minute = rate
        association.save()
    finally:
        release()  # (a PostgreSQL base: its pool's connections too)
    numbers = keep(demo_db_file, 8)
    env = {**os.environ, "TUIAPP_PACING_WINDOW": str(window), "TUIAPP_SMTP_CONNECTIONS": str(limit),
           "TUIAPP_SMTP_CONNECTION_RETRY": "0.1"}
    processes = [subprocess.Popen([sys.executable, "-m", "tuiapp", "send", "--db", str(demo_db_file), "--period",
                                   PERIOD, "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env) for _ in range(3)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert delivered(server) == collections.Counter(numbers)  # every invoice exactly once
    assert statuses(demo_db_file) == {"sent": len(numbers)}
    never_more_than(rate, window, sorted(received.at for received in server.received))
    assert server.handler.most_sessions <= limit
    assert any("Limite de 2 connexions" in out for out, _ in outputs), outputs  # the third one waited
