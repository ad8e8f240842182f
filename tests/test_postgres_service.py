"""The sender service on a PostgreSQL base (issue 15): what operators queued is drained, each
invoice delivered once, by one service or by two at once."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from tests.test_sender_service import FAST, SEPTEMBER, configure, delivered, finish, sender
from tuiapp.db import queries
from tuiapp.db.database import open_database, release
from tuiapp.domain.db_target import parse_target
from tuiapp.sending import outbox

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="the service trusts only a root-owned configuration")


@pytest.fixture
def demo_on_postgres(pg_url):
    from tuiapp.demo.data import build_demo

    open_database(parse_target(pg_url))
    build_demo()
    release()
    return pg_url


def queue(url: str, count: int, operator: str) -> list[str]:
    open_database(parse_target(url))
    try:
        invoices = list(queries.invoices_to_mail(SEPTEMBER))[:count]
        assert len(outbox.queue_invoices([i.id for i in invoices], operator=operator).record_ids) == count
        return [invoice.number for invoice in invoices]
    finally:
        release()


def states(pg_cluster, pg_database) -> dict[str, tuple[str, str]]:
    rows = pg_cluster.psql("SELECT i.number, s.status, s.operator FROM send_record s JOIN invoice i ON i.id = "
                           "s.invoice_id WHERE i.period_year = 2024 AND i.period_month = 9", dbname=pg_database.name)
    return {number: (status, operator) for number, status, operator in rows}


def test_the_service_drains_the_operators_queue_from_a_postgresql_base(demo_on_postgres, server, tmp_path,
                                                                      pg_cluster, pg_database):
    config = configure(tmp_path, demo_on_postgres, server)
    numbers = queue(demo_on_postgres, 4, "marie")
    code, out, err = finish(sender(config, "--once"))
    assert code == 0, err
    assert "Service d'envoi arrêté : 4 envoyées" in out and "Traceback" not in err
    assert delivered(server) == collections.Counter(numbers)
    assert {states(pg_cluster, pg_database)[n] for n in numbers} == {("sent", "marie")}
    (beat,), = pg_cluster.psql("SELECT value FROM metadata WHERE key = 'sender_heartbeat'", dbname=pg_database.name)
    assert '"state": "stopped"' in beat


def test_two_services_on_one_postgresql_base_deliver_each_invoice_once(demo_on_postgres, server, tmp_path,
                                                                      pg_cluster, pg_database):
    config = configure(tmp_path, demo_on_postgres, server)
    numbers = queue(demo_on_postgres, 12, "marie")
    server.faults.hold_data = {1: 0.5, 2: 0.5, 3: 0.5}  # slow first messages: the other service claims meanwhile
    first, second = sender(config, "--once"), sender(config, "--once")
    results = [finish(first), finish(second)]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    counts = [int(re.search(r"arrêté : (\d+) envoyée", out).group(1)) for _, out, _ in results]
    assert sum(counts) == 12 and min(counts) >= 1, counts  # both sent: their claims met on one base
    assert delivered(server) == collections.Counter(numbers)  # each once, counted at the server
    assert {status for status, _ in states(pg_cluster, pg_database).values()} == {"sent"}


def test_sigkill_then_restart_loses_and_doubles_nothing(demo_on_postgres, server, tmp_path, pg_cluster, pg_database):
    """The crash test of SQLite's service (``test_sender_service``), on PostgreSQL: killed while
    the server holds a message, then started again."""

    config = configure(tmp_path, demo_on_postgres, server)
    numbers = queue(demo_on_postgres, 5, "marie")
    server.faults.hold_data = {2: 3.0}
    process = sender(config)
    assert server.handler.data_started.wait(30)
    process.kill()
    process.wait(10)
    assert states(pg_cluster, pg_database)[numbers[1]][0] == "sending"
    server.faults.hold_data = {}
    wait_for(lambda: len(server.received) == 2)  # the server finishes what it held (the client was gone)
    code, out, err = finish(sender(config, "--once"))
    assert code == 0, err
    state = states(pg_cluster, pg_database)
    assert state[numbers[1]][0] == "unknown"  # in flight when killed: for the operator to decide
    assert all(state[n][0] == "sent" for n in numbers if n != numbers[1])
    assert all(count == 1 for count in delivered(server).values()) and set(delivered(server)) == set(numbers)


_RACE = """
import sys
from tuiapp.db.database import open_database
from tuiapp.domain.db_target import parse_target
from tuiapp.sending import pacing
open_database(parse_target(sys.argv[1]))
slots = sum(pacing.take_slot("race", 5, 60.0, float(sys.argv[2]))[0] is not None for _ in range(5))
places = sum(pacing.take_place("race", 3, float(sys.argv[2])) is not None for _ in range(3))
print(slots, places, flush=True)
sys.stdin.read()  # alive until every racer has taken its share: a dead holder's places are free again
"""


def test_processes_racing_on_one_postgresql_base_never_pass_the_rate_nor_the_connection_limit(pg_url):
    """Pacing per mail account (5 a window) and its connection limit (3), held across processes
    as on SQLite: each process takes what it can, at once."""
    open_database(parse_target(pg_url))  # the schema, made once before the race
    release()
    now = time.time()
    racers = [subprocess.Popen([sys.executable, "-c", _RACE, pg_url, str(now)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        lines = [racer.stdout.readline() for racer in racers]  # each has taken what it could, still alive
    finally:
        outputs = [racer.communicate(timeout=60) for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * 4, outputs
    taken = [tuple(int(n) for n in line.split()) for line in lines]
    assert sum(slots for slots, _ in taken) == 5 and sum(places for _, places in taken) == 3, taken


def wait_for(condition, timeout: float = 30.0):

    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "still waiting"
        time.sleep(0.1)
    return result


def crash_before_reply(server, pg_cluster, *, message: int, back_after: float | None) -> threading.Event:
    """The database server crashes while the mail server holds ``message`` (its reply waits for
    the crash, so the outcome is written after it); with ``back_after``, it starts again that
    many seconds later, still before the reply (the sender's connections are dead all the same).
    The event is set once it crashed."""
    crashed = threading.Event()

    def crash() -> None:
        pg_cluster.crash()
        crashed.set()
        if back_after is not None:
            time.sleep(back_after)
            pg_cluster.start()

    server.faults.on_data = {message: crash}
    return crashed


def all_sent_after(fault, process, pg_cluster, pg_database) -> str:
    """``fault()`` done while the service runs; then, once every record is sent, the service
    stopped (it must end well); what it printed."""
    import psycopg

    def all_sent() -> bool:
        try:
            return {status for status, _ in states(pg_cluster, pg_database).values()} == {"sent"}
        except psycopg.OperationalError:  # the server down for now
            return False

    try:
        fault()
        settled = wait_for(all_sent)
    except AssertionError:
        settled = False
    finally:
        process.terminate()
        code, out, err = finish(process)
    assert settled, (states(pg_cluster, pg_database), out, err)
    assert code == 0 and "Traceback" not in err, err
    return out


@pytest.mark.parametrize("down", [0.5, 3.0], ids=["back-within-the-wait", "down-longer-than-the-wait"])
def test_a_database_server_restarted_during_a_batch_loses_and_doubles_nothing(demo_on_postgres, server, tmp_path,
                                                                               pg_cluster, pg_database, monkeypatch,
                                                                               down):
    """PostgreSQL's counterpart of SQLite's crash tests: the database server crashes while a
    message is at the mail server, every connection dropped, and starts again. Back within the
    writes' wait, the outcome is written then and the batch goes on; down for longer, the reply
    waits in the send journal, the batch stops, the service says so, keeps trying, settles the
    journal once the server is back and goes on. Each invoice is delivered once, every record
    ends sent, and the service never stops on it."""
    within = down < 1
    monkeypatch.setenv("TUIAPP_DB_WAIT", "15" if within else "1")
    config = configure(tmp_path, demo_on_postgres, server)
    numbers = queue(demo_on_postgres, 5, "marie")
    crashed = crash_before_reply(server, pg_cluster, message=2, back_after=down if within else None)
    def crash() -> None:
        assert crashed.wait(30)
        if not within:  # the reply comes while the server is down, for longer than the writes wait
            time.sleep(down)
            pg_cluster.start()

    out = all_sent_after(crash, sender(config), pg_cluster, pg_database)
    assert delivered(server) == collections.Counter(numbers)  # each once, counted at the server
    assert {states(pg_cluster, pg_database)[n] for n in numbers} == {("sent", "marie")}
    if within:  # the write done again on a new connection: the batch never stopped
        assert "Envoi arrêté" not in out and "Base indisponible" not in out, out
    else:
        assert "Envoi arrêté. Écriture impossible : le serveur de la base ne répond plus" in out, out
        assert "Base indisponible. " in out and "Nouvel essai dans 1 s." in out, out


def test_a_connection_dropped_mid_transaction_is_written_again_on_a_new_one(demo_on_postgres, server, tmp_path,
                                                                            pg_cluster, pg_database, monkeypatch):
    """The service's connection ends while its outcome write waits inside its transaction (for
    the writers' lock another program holds): the transaction is gone with it, and the write is
    done again, whole, on a new connection."""
    from tuiapp.db.database import WRITER_LOCK

    monkeypatch.setenv("TUIAPP_DB_WAIT", "20")
    config = configure(tmp_path, demo_on_postgres, server)
    numbers = queue(demo_on_postgres, 3, "marie")
    holder = pg_cluster.connect(pg_database.name)
    locked = threading.Event()

    def lock_before_the_reply() -> None:  # the mail server's reply to message 2 waits for this
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
        locked.set()

    server.faults.on_data = {2: lock_before_the_reply}
    # its heartbeat beats at its start and its stop only: the one writer to wait is the engine
    process = subprocess.Popen([sys.executable, "-m", "tuiapp", "sender", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **FAST, "TUIAPP_HEARTBEAT": "600"})

    def cut_mid_transaction() -> None:
        assert locked.wait(30)
        with holder:  # (its transaction, and so the lock, ends with it)
            waiting = wait_for(lambda: pg_cluster.psql(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                "AND wait_event = 'advisory'", (pg_database.name,)))
            assert pg_cluster.psql("SELECT pg_terminate_backend(%s)", (waiting[0][0],)) == [(True,)]
            wait_for(lambda: pg_cluster.psql(  # its new connection waits again, in a new transaction
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event = 'advisory' AND pid <> %s",
                (pg_database.name, waiting[0][0])))

    out = all_sent_after(cut_mid_transaction, process, pg_cluster, pg_database)
    assert delivered(server) == collections.Counter(numbers)
    assert "Envoi arrêté" not in out and "Base indisponible" not in out, out  # done again, not stopped


def another_machines_sender(config, name: str = "serveur-b") -> subprocess.Popen:
    """The sender service as on another server sharing the base: a host name of its own (a UTS
    namespace), so its claims and heartbeat carry that machine's name."""
    return subprocess.Popen(["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name, sys.executable,
                             "-m", "tuiapp", "sender", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **FAST})


async def test_an_operators_tab_follows_another_machines_service_live(demo_on_postgres, server, tmp_path,
                                                                      pg_cluster, pg_database, monkeypatch):
    """Live status across machines: on this machine the operator queues from the sending tab;
    the service of another server sends; the tab shows its heartbeat and each invoice's outcome
    as they come, by the same polling as on SQLite."""
    from tests.test_contributions import SIZE
    from tests.test_sending_service_tab import queue_and_follow
    from tuiapp.app import create_app

    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    open_database(parse_target(demo_on_postgres))
    numbers = [invoice.number for invoice in queries.invoices_to_mail(SEPTEMBER)][:3]
    release()
    pg_cluster.psql(  # three to mail: the others stamped as mailed
        "UPDATE invoice SET last_mailed_at = '2024-10-01T08:00:00+00:00' WHERE period_year = 2024 "
        "AND period_month = 9 AND number <> ALL(%s)", (numbers,), dbname=pg_database.name)
    config = configure(tmp_path, demo_on_postgres, server)
    service = another_machines_sender(config)
    app = create_app(parse_target(demo_on_postgres), service_mode=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await queue_and_follow(app, pilot, numbers)
    finally:
        service.terminate()
        code, out, err = finish(service)
        release()
    assert code == 0 and "Traceback" not in err, err
    assert delivered(server) == collections.Counter(numbers)
    (beat,), = pg_cluster.psql("SELECT value FROM metadata WHERE key = 'sender_heartbeat@serveur-b'",
                               dbname=pg_database.name)
    assert '"process": "serveur-b:' in beat  # it was the other machine's service that sent
