"""``tuiapp smtp``, ``send``, ``history`` and ``resolve`` against a real server: in the test process
(``tests.cli_runner``), and as real processes where the test needs one (killed, two at once) or
to prove the installed command works end to end."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli as tuiapp
from tests.raw import every_value, raw
from tests.smtp_server import PASSWORD, USERNAME

PERIOD = "2024-09"
TO_SEND = 8  # September's invoices left to mail in these tests: the others went earlier


def tuiapp_process(*args, stdin=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "tuiapp", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "tuiapp", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


@pytest.fixture
def base(demo_db_file, server):
    """The demo base, set up through the CLI for the test server; returns the --db arguments."""
    db = ["--db", str(demo_db_file)]
    result = tuiapp("smtp", "set", *db, "--host", "127.0.0.1", "--port", str(server.port), "--security",
                    "starttls", "--username", USERNAME, "--ca-file", str(server.ca_file), "--rate", "0")
    assert result.returncode == 0, result.stderr
    result = tuiapp("smtp", "password", *db, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture
def small(base, demo_db_file):
    """The same, with a small batch left to send: September's invoices all mailed but a few
    (DURAND Claude among them)."""
    with raw(demo_db_file) as connection:
        numbers = [number for (number,) in connection.execute(_MAILABLE + " ORDER BY i.number")]
        kept = [*numbers[: TO_SEND - 1], "EHPAD-202409-040"]
        connection.execute(f"UPDATE invoice SET last_mailed_at = '2024-10-03 09:30:00' WHERE period_year = 2024 "
                           f"AND period_month = 9 AND number NOT IN ({', '.join('?' * len(kept))})", kept)
    assert len(mailable(demo_db_file)) == TO_SEND
    return base


_MAILABLE = ("SELECT i.number FROM invoice i JOIN resident r ON r.id = i.resident_id WHERE i.period_year = 2024 "
             "AND i.period_month = 9 AND (coalesce(r.email, '') != '' OR coalesce(r.guardian_email, '') != '')")


def mailable(target) -> list[str]:
    """September's invoices with an address not mailed yet (``target``: the base, a file or a PostgreSQL one)."""
    with raw(target) as connection:
        return [row[0] for row in connection.execute(_MAILABLE + " AND i.last_mailed_at IS NULL")]


def delivered(server) -> collections.Counter:
    return collections.Counter(
        next(r.message.iter_attachments()).get_filename().split("_")[1] for r in server.received
    )


def statuses(target) -> collections.Counter:
    """September's send records by state, read through the test's own connection."""
    with raw(target) as connection:
        return collections.Counter(row[0] for row in connection.execute(
            "SELECT s.status FROM send_record s JOIN invoice i ON i.id = s.invoice_id WHERE i.period_month = 9"))


def stored(target) -> bytes:
    """What the base keeps: the bytes of its file and of those beside it (its WAL), or, a
    PostgreSQL base, every row of every table (read through the test's own connection)."""
    if isinstance(target, Path):
        return b"".join(path.read_bytes() for path in filter(Path.is_file, target.parent.glob(target.name + "*")))
    return every_value(target)


def test_smtp_settings_password_and_connection_test(base, server):
    shown = tuiapp("smtp", "show", *base)
    assert shown.returncode == 0
    assert f"Port           : {server.port}" in shown.stdout and "enregistré dans le trousseau" in shown.stdout
    assert "(s)" not in shown.stdout and ("messages par minute" in shown.stdout or "sans limite" in shown.stdout)
    ok = tuiapp("smtp", "test", *base)
    assert ok.returncode == 0 and "Connexion réussie" in ok.stdout, ok.stderr
    sent = tuiapp("smtp", "test", *base, "--to", "essai@example.org", "--structure", "fh")
    assert sent.returncode == 0, sent.stderr
    assert server.received[-1].rcpt_tos == ["essai@example.org"]
    assert server.received[-1].mail_from == "facturation.tilleuls@example.org"
    for output in (shown, ok, sent):
        assert PASSWORD not in output.stdout + output.stderr


def test_wrong_password_and_untrusted_certificate_are_explained(small, demo_db_file):
    assert tuiapp("smtp", "password", *small, stdin="wrong-password\n").returncode == 0
    result = tuiapp("smtp", "test", *small)
    assert result.returncode == 2 and "Mot de passe refusé par le serveur (535)" in result.stderr
    sent = tuiapp("send", *small, "--period", PERIOD, "--yes")
    assert sent.returncode == 2 and "Mot de passe refusé" in sent.stderr
    assert statuses(demo_db_file)["sent"] == 0
    assert tuiapp("smtp", "password", *small, stdin=PASSWORD + "\n").returncode == 0
    assert tuiapp("smtp", "set", *small, "--ca-file", "").returncode == 0
    untrusted = tuiapp("smtp", "test", *small)
    assert untrusted.returncode == 2 and "Certificat non reconnu" in untrusted.stderr


def test_bad_input_is_refused_cleanly(base):
    for args, message in (
        (("send", *base, "--period", "2024-13", "--yes"), "Période"),
        (("send", *base, "--period", PERIOD, "--structure", "XX", "--yes"), "Structure inconnue"),
        (("smtp", "set", *base, "--port", "0"), "Port SMTP"),
        (("smtp", "set", *base, "--ca-file", "/nonexistent.pem"), "introuvable"),
        (("smtp", "test", *base, "--to", "pas-une-adresse", "--structure", "FH"), "--to"),
        (("resolve", *base, "99999", "--resend"), "L'envoi n° 99999 n'existe pas"),
    ):
        result = tuiapp(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def test_dry_run_sends_nothing(small, server, demo_db_file):
    result = tuiapp("send", *small, "--period", PERIOD, "--dry-run")
    assert result.returncode == 0
    assert "94 factures déjà envoyées" in result.stdout and "23 factures sans adresse" in result.stdout
    numbers = mailable(demo_db_file)
    assert f"{len(numbers)} factures seraient envoyées" in result.stdout
    assert all(number in result.stdout for number in numbers)
    assert "Facture_" in result.stdout and "Objet" in result.stdout
    assert server.received == [] and sum(statuses(demo_db_file).values()) == 0


def test_send_a_period_then_nothing_left(small, server, demo_db_file):
    numbers = mailable(demo_db_file)
    result = tuiapp_process("send", *small, "--period", PERIOD, "--yes")  # the real command, end to end
    assert result.returncode == 0, result.stderr
    assert delivered(server) == collections.Counter(numbers)
    assert f"Envoi terminé : {len(numbers)} envoyées." in result.stdout
    assert "23 factures sans adresse e-mail : à imprimer." in result.stderr  # what is left out, and why
    again = tuiapp("send", *small, "--period", PERIOD, "--yes")
    assert again.returncode == 0 and "Aucune facture à envoyer" in again.stdout
    assert "102 factures déjà envoyées : pas renvoyées (--include-sent pour les renvoyer)." in again.stderr
    history = tuiapp("history", *small, "--period", PERIOD, "--format", "csv")
    lines = history.stdout.strip().splitlines()
    assert lines[0].startswith("\ufeffenvoi;facture;résident") and len(lines) == TO_SEND + 1  # BOM first
    assert all(";envoyée;" in line for line in lines[1:])
    for output in (result, again, history):
        assert PASSWORD not in output.stdout + output.stderr
    kept = stored(demo_db_file)
    assert USERNAME.encode() in kept and PASSWORD.encode() not in kept  # the settings are there, not the password


def test_quota_stops_then_the_next_send_completes(small, server, demo_db_file):
    server.faults.quota_after = 3
    numbers = mailable(demo_db_file)
    first = tuiapp("send", *small, "--period", PERIOD, "--yes")
    assert first.returncode == 1 and "Limite d'envoi du serveur atteinte" in first.stderr
    assert statuses(demo_db_file) == {"sent": 3, "queued": len(numbers) - 3}
    server.faults.quota_after = None
    second = tuiapp("send", *small, "--period", PERIOD, "--yes")
    assert second.returncode == 0, second.stderr
    assert delivered(server) == collections.Counter(numbers)
    assert statuses(demo_db_file) == {"sent": len(numbers)}  # the waiting records taken up, none queued twice


def test_killed_during_a_batch_then_the_next_run(small, server, demo_db_file):
    server.faults.hold_data = {3: 30.0}  # the server keeps the 3rd message but is slow to say so
    numbers = mailable(demo_db_file)
    process = start("send", *small, "--period", PERIOD, "--yes")
    assert server.handler.data_started.wait(60), process.communicate()
    os.kill(process.pid, signal.SIGKILL)  # killed while waiting for that reply
    process.wait(10)
    assert statuses(demo_db_file)["sending"] == 1
    second = tuiapp("send", *small, "--period", PERIOD, "--yes")
    assert second.returncode == 1  # one invoice's fate is unknown
    assert "état inconnu" in second.stderr and "tuiapp resolve" in second.stderr
    counts = delivered(server)
    assert counts == collections.Counter(numbers)  # each exactly once, none twice
    assert statuses(demo_db_file)["unknown"] == 1
    history = tuiapp("history", *small, "--period", PERIOD, "--format", "csv")
    unknown_id = next(line.split(";")[0] for line in history.stdout.splitlines() if ";état inconnu;" in line)
    resolved = tuiapp("resolve", *small, unknown_id, "--delivered")
    assert resolved.returncode == 0 and statuses(demo_db_file)["unknown"] == 0


def test_two_processes_on_the_same_period(small, server, demo_db_file):
    numbers = mailable(demo_db_file)
    processes = [start("send", *small, "--period", PERIOD, "--yes") for _ in range(2)]
    outputs = [process.communicate(timeout=180) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert delivered(server) == collections.Counter(numbers)  # every invoice exactly once
    assert statuses(demo_db_file) == {"sent": len(numbers)}


def test_residents_who_left_are_sent(small, server, demo_db_file):
    """The seed's list: DURAND Claude has left, has two addresses and a September invoice: mailed."""
    dry = tuiapp("send", *small, "--period", PERIOD, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "EHPAD-202409-040  DURAND Claude, sorti(e)" in dry.stdout
    assert "claude.durand@example.com, gerard.durand43@example.net" in dry.stdout
    with raw(demo_db_file) as connection:  # the others went earlier: only his is left to send
        connection.execute(
            "UPDATE invoice SET last_mailed_at = '2024-10-03 09:30:00' WHERE number != 'EHPAD-202409-040'")
    result = tuiapp("send", *small, "--period", PERIOD, "--yes")
    assert result.returncode == 0, result.stderr
    assert delivered(server) == {"EHPAD-202409-040": 1}
    assert sorted(server.received[0].rcpt_tos) == ["claude.durand@example.com", "gerard.durand43@example.net"]
    assert statuses(demo_db_file) == {"sent": 1}
