"""``tuiapp send`` when the database, the disk or the terminal fail it: the real command (in the
test process, or a real process where the test needs one: several senders, a signal, a closed
pipe, the terminal's encoding), real bases (SQLite files; PostgreSQL in its pass), another process
holding the writers' lock, the loopback server injecting the fault. Every invoice arrives once."""

from __future__ import annotations

import collections
import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.raw import raw
from tests.smtp_server import PASSWORD, USERNAME
from tests.test_cli_send import PERIOD, base, delivered, mailable, statuses  # noqa: F401  (base: a fixture)
from tuiapp.db.database import WRITER_LOCK
from tuiapp.locations import journal_dir

# Another workstation's long write: the writers' lock, held in a process of its own, for a time
# or until the test releases it (``release``). On a file, SQLite's write lock; on a PostgreSQL
# base, the advisory lock that stands for it (``tuiapp.db.database.write_transaction``).
_HOLD_LOCK = """
import sys, time
if "://" in sys.argv[1]:
    import psycopg
    connection = psycopg.connect(sys.argv[1])  # (the password: $PGPASSFILE)
    connection.execute("SELECT pg_advisory_xact_lock(%s)", (int(sys.argv[3]),))
    end = connection.rollback
else:
    import sqlite3
    connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    connection.execute("BEGIN IMMEDIATE")
    end = lambda: connection.execute("ROLLBACK")
print("held", flush=True)
if sys.argv[2] == "until-released":
    sys.stdin.read()
else:
    time.sleep(float(sys.argv[2]))
end()
"""


def hold_lock(target, seconds: float | None = None) -> subprocess.Popen:
    """Take the base's write lock for ``seconds`` (``None``: until ``release``); returns once it is held."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(target),
                               "until-released" if seconds is None else str(seconds), str(WRITER_LOCK)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    assert holder.wait(10) == 0


def send(db_args, *, wait=1.0, env=None):
    return run_cli("send", *db_args, "--period", PERIOD, "--yes", env={"TUIAPP_DB_WAIT": str(wait), **(env or {})})


def keep(target, count: int) -> list[str]:
    """Leave ``count`` invoices of the period to mail (the others marked as mailed): small, quick batches."""
    numbers = mailable(target)
    with raw(target) as connection:
        connection.executemany(
            "UPDATE invoice SET last_mailed_at = '2024-10-01T08:00:00.000000+00:00' WHERE number = ?",
            [(number,) for number in numbers[count:]])
    return numbers[:count]


def records(target) -> dict[str, tuple]:
    """invoice number -> (status, attempts, last_reply, last_mailed_at) of its latest send record."""
    with raw(target) as connection:
        rows = connection.execute(
            "SELECT i.number, s.status, s.attempts, s.last_reply, i.last_mailed_at FROM send_record s JOIN invoice i"
            " ON i.id = s.invoice_id WHERE i.period_year = 2024 AND i.period_month = 9 ORDER BY s.id").fetchall()
    return {number: tuple(rest) for number, *rest in rows}


def journal_slots(target) -> list[Path]:
    return sorted(journal_dir(target).glob("*.slot"))


def first_number(server) -> str:
    return next(server.received[0].message.iter_attachments()).get_filename().split("_")[1]


@pytest.mark.long
def test_a_completion_blocked_past_the_bound_is_kept_and_never_sent_twice(base, server, demo_db_file):
    numbers = keep(demo_db_file, 6)
    holders = []
    server.faults.on_data = {1: lambda: holders.append(hold_lock(demo_db_file))}
    first = send(base, wait=1.0)
    release(holders[0])
    assert first.returncode == 1, first.stderr
    assert "base occupée par un autre poste depuis 1 s" in first.stderr and "Traceback" not in first.stderr
    assert "journal d'envoi" in first.stderr
    number = first_number(server)
    assert len(server.received) == 1
    state = records(demo_db_file)
    assert state[number][0] == "sending"  # never back to "queued"
    assert collections.Counter(status for status, *_ in state.values()) == {"sending": 1, "queued": len(state) - 1}
    [slot] = journal_slots(demo_db_file)
    assert b'"status": "sent"' in slot.read_bytes()
    assert slot.stat().st_mode & 0o777 == 0o660 and slot.parent.stat().st_mode & 0o7777 == 0o2770

    second = send(base, wait=1.0)
    assert second.returncode == 0, second.stderr
    assert delivered(server) == collections.Counter(numbers)  # the first one only once
    status, attempts, reply, mailed_at = records(demo_db_file)[number]
    assert (status, attempts) == ("sent", 1) and reply.startswith("250") and mailed_at is not None
    assert statuses(demo_db_file) == {"sent": len(numbers)}
    assert journal_slots(demo_db_file) == []


def test_a_lock_released_within_the_bound_is_waited_for(base, server, demo_db_file):
    numbers = keep(demo_db_file, 4)
    holders = []
    server.faults.on_data = {2: lambda: holders.append(hold_lock(demo_db_file, 0.7))}
    result = send(base, wait=2.0)
    assert result.returncode == 0, result.stderr
    assert "occupée" not in result.stderr
    assert delivered(server) == collections.Counter(numbers)
    assert statuses(demo_db_file) == {"sent": len(numbers)}
    assert journal_slots(demo_db_file) == []


def test_any_start_applies_the_journal(base, server, demo_db_file):
    """``tuiapp history`` (not only ``send``) settles what the journal kept."""
    keep(demo_db_file, 3)
    holders = []
    server.faults.on_data = {1: lambda: holders.append(hold_lock(demo_db_file))}
    send(base, wait=0.5)
    release(holders[0])
    number = first_number(server)
    assert records(demo_db_file)[number][0] == "sending"
    history = run_cli("history", *base, "--period", PERIOD, "--format", "csv")
    assert history.returncode == 0, history.stderr
    assert records(demo_db_file)[number][0] == "sent" and journal_slots(demo_db_file) == []


@pytest.mark.long
def test_eight_senders_on_one_file_send_each_invoice_once(base, server, demo_db_file):
    numbers = keep(demo_db_file, 24)
    environment = {**os.environ, "TUIAPP_DB_WAIT": "2"}
    command = [sys.executable, "-m", "tuiapp", "send", *base, "--period", PERIOD, "--yes"]
    holder = hold_lock(demo_db_file, 1.0)  # another workstation writes as they start
    senders = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
               for _ in range(8)]
    outputs = [sender.communicate(timeout=240) for sender in senders]
    holder.wait(10)
    assert [sender.returncode for sender in senders] == [0] * 8, [err[-500:] for _, err in outputs]
    assert not any("occupée" in out + err or "Traceback" in err for out, err in outputs)
    assert delivered(server) == collections.Counter(numbers)  # each exactly once
    assert statuses(demo_db_file) == {"sent": len(numbers)}


# -- a full disk -----------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs mounted for the test (needs the right to mount: root, as here and in CI)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (not root?): {mounted.stderr.decode(errors='replace')}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system until it has no byte left; returns the filler file."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


@pytest.mark.sqlite_only  # a full disk under the database file (a PostgreSQL server's disk is not the test's)
def test_a_full_disk_after_the_server_accepted_never_sends_twice(demo_db_file, server, small_disk):
    db_path = small_disk / "tuiapp.db"
    shutil.copyfile(demo_db_file, db_path)
    db_args = ["--db", str(db_path)]
    assert run_cli("smtp", "set", *db_args, "--host", "127.0.0.1", "--port", str(server.port), "--security",
                   "starttls", "--username", USERNAME, "--ca-file", str(server.ca_file), "--rate", "0").returncode == 0
    assert run_cli("smtp", "password", *db_args, stdin=PASSWORD + "\n").returncode == 0
    numbers = keep(db_path, 5)
    fillers = []
    server.faults.on_data = {1: lambda: fillers.append(fill(small_disk))}

    first = send(db_args, wait=1.0)
    assert first.returncode != 0 and "Traceback" not in first.stderr
    assert "disque plein" in first.stderr and str(small_disk) in first.stderr, first.stderr
    number = first_number(server)
    assert len(server.received) == 1
    fillers[0].unlink()  # space is freed
    assert records(db_path)[number][0] == "sending"  # never back to "queued"

    second = send(db_args, wait=1.0)
    assert second.returncode == 0, second.stderr
    assert delivered(server) == collections.Counter(numbers)  # the first one only once
    assert records(db_path)[number][:2] == ("sent", 1)
    assert statuses(db_path) == {"sent": len(numbers)} and journal_slots(db_path) == []


def test_disk_full_is_explained_with_the_disk(tmp_path):
    from tuiapp.db.database import explain_database_error

    text = explain_database_error(tmp_path / "tuiapp.db", sqlite3.OperationalError("database or disk is full"))
    assert "disque plein" in text and str(tmp_path) in text and "OperationalError" not in text


# -- the terminal ----------------------------------------------------------------------


def test_a_terminal_that_cannot_show_every_letter_never_breaks_a_batch(base, server, demo_db_file):
    encoding = "latin-1"
    numbers = keep(demo_db_file, 12)
    with raw(demo_db_file) as connection:
        connection.executemany("UPDATE resident SET last_name = 'CŒUR', first_name = 'Zoë' WHERE id = "
                               "(SELECT resident_id FROM invoice WHERE number = ?)", [(number,) for number in numbers])
    # A process of its own: PYTHONIOENCODING is read when the interpreter starts.
    result = subprocess.run([sys.executable, "-m", "tuiapp", "send", *base, "--period", PERIOD, "--yes"],
                            capture_output=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": encoding})
    assert result.returncode == 0, result.stderr.decode(encoding, "replace")
    output = result.stdout.decode(encoding)
    assert output.count("C?UR") >= 12 and "Envoi terminé" in output.replace("?", "é")
    assert delivered(server) == collections.Counter(numbers)
    assert all("CŒUR Zoë" in r.message["Subject"] for r in server.received)  # the mails keep every letter


def test_a_closed_pipe_stops_between_two_messages_and_the_rest_waits(base, server, demo_db_file):
    numbers = keep(demo_db_file, 12)
    server.faults.hold_data = {n: 0.05 for n in range(1, 20)}  # the reader leaves while the batch runs
    sender = subprocess.Popen([sys.executable, "-m", "tuiapp", "send", *base, "--period", PERIOD, "--yes"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TUIAPP_DB_WAIT": "1"})
    head = subprocess.Popen(["head", "-3"], stdin=sender.stdout, stdout=subprocess.PIPE)
    sender.stdout.close()  # only head reads it now: "tuiapp send | head -3"
    shown, _ = head.communicate(timeout=60)
    error = sender.stderr.read().decode()
    sender.wait(60)
    assert len(shown.decode().splitlines()) == 3
    assert sender.returncode not in (0, None) and "Traceback" not in error and "Exception" not in error, error
    counts = statuses(demo_db_file)
    assert "sending" not in counts and counts["sent"] == len(server.received) >= 3
    assert counts["queued"] == len(numbers) - counts["sent"] > 0  # the rest waits, resumable
    again = send(base)
    assert again.returncode == 0, again.stderr
    assert delivered(server) == collections.Counter(numbers)


def test_ctrl_c_or_sigterm_interrupts_and_the_rest_stays_queued(base, server, demo_db_file):
    import signal

    numbers = keep(demo_db_file, 6)
    server.faults.hold_data = {2: 1.0}
    sender = subprocess.Popen([sys.executable, "-m", "tuiapp", "send", *base, "--period", PERIOD, "--yes"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.handler.data_started.wait(60)
    sender.send_signal(signal.SIGTERM)  # while the 2nd message is on the wire
    out, err = sender.communicate(timeout=60)
    assert sender.returncode == 1 and "Traceback" not in err, err
    assert "restent en attente" in err and "Envoi interrompu" in out
    counts = statuses(demo_db_file)
    assert counts["sent"] == len(server.received) == 2  # the message on the wire was completed
    assert counts["queued"] == len(numbers) - 2  # interrupted: not withdrawn
