"""The sender service (``tuiapp sender``) as a real process: it drains what operators queued, to a real
loopback server (STARTTLS, AUTH), with the destination from a root-owned configuration and the password
from its own folder; SIGTERM finishes the current message, SIGKILL then a restart loses and doubles nothing."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.raw import raw
from tests.smtp_server import PASSWORD, USERNAME
from tuiapp.db import queries
from tuiapp.db.database import open_database, release
from tuiapp.domain.periods import Period
from tuiapp.mail import service_secret
from tuiapp.sending import outbox

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="the service trusts only a root-owned configuration")

SEPTEMBER = Period(2024, 9)
FAST = {"TUIAPP_HEARTBEAT": "0.2", "TUIAPP_SENDER_POLL": "0.1", "TUIAPP_SENDER_RETRY": "0.5",
        "TUIAPP_HEARTBEAT_STALE": "1.5"}


def configure(tmp_path: Path, database, server, *, password: str | None = PASSWORD) -> Path:
    """A root-owned service-mode configuration naming ``database`` (a file or a PostgreSQL URL)."""
    secret_dir = tmp_path / "secret"
    config = tmp_path / "tuiapp.toml"
    config.write_text(
        f'database = "{database}"\nmode = "service"\nsecret_dir = "{secret_dir}"\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "starttls"\nusername = "{USERNAME}"\n'
        f'ca_file = "{server.ca_file}"\nrate_per_minute = 0\n', encoding="utf-8")
    os.chown(config, 0, 0)
    config.chmod(0o640)
    if password is not None:
        service_secret.write_password(secret_dir, password)
    return config


def queue(database, count: int, operator: str = "marie") -> list[str]:
    """``count`` invoices of September queued by ``operator``; returns their numbers, oldest first."""
    open_database(database)
    invoices = list(queries.invoices_to_mail(SEPTEMBER))[:count]
    result = outbox.queue_invoices([invoice.id for invoice in invoices], operator=operator)
    assert len(result.record_ids) == count
    release()
    return [invoice.number for invoice in invoices]


def records(database) -> dict[str, tuple[str, str]]:
    with raw(database) as connection:
        rows = connection.execute("SELECT i.number, s.status, s.operator FROM send_record s JOIN invoice i ON "
                                  "i.id = s.invoice_id WHERE i.period_year = 2024 AND i.period_month = 9").fetchall()
    return {number: (status, operator) for number, status, operator in rows}


def heartbeat_state(database) -> str | None:
    with raw(database) as connection:
        row = connection.execute("SELECT value FROM metadata WHERE key = 'sender_heartbeat'").fetchone()
    import json

    return json.loads(row[0])["state"] if row else None


def delivered(server) -> collections.Counter:
    return collections.Counter(
        next(r.message.iter_attachments()).get_filename().split("_")[1] for r in server.received)


def sender(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tuiapp", "sender", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **FAST})


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_once_drains_every_operators_queue_oldest_first(demo_db_file, server, tmp_path):
    config = configure(tmp_path, demo_db_file, server)
    marie = queue(demo_db_file, 3, "marie")
    open_database(demo_db_file)
    paul_invoices = list(queries.invoices_to_mail(SEPTEMBER))[3:5]
    outbox.queue_invoices([i.id for i in paul_invoices], operator="paul")
    release()
    code, out, err = finish(sender(config, "--once"))
    assert code == 0, err
    assert "Service d'envoi arrêté : 5 envoyées" in out and "Traceback" not in err
    numbers = marie + [i.number for i in paul_invoices]
    assert delivered(server) == collections.Counter(numbers)  # each once
    assert [next(r.message.iter_attachments()).get_filename().split("_")[1] for r in server.received] == numbers
    state = records(demo_db_file)
    assert {state[n] for n in marie} == {("sent", "marie")} and {state[i.number] for i in paul_invoices} == {
        ("sent", "paul")}  # who queued it stays the operator
    assert heartbeat_state(demo_db_file) == "stopped"


def test_sigterm_finishes_the_current_message_and_leaves_the_rest_queued(demo_db_file, server, tmp_path):
    config = configure(tmp_path, demo_db_file, server)
    numbers = queue(demo_db_file, 5)
    server.faults.hold_data = {2: 1.0}
    process = sender(config)
    assert server.handler.data_started.wait(30)
    process.send_signal(signal.SIGTERM)
    code, out, err = finish(process)
    assert code == 0, err
    state = records(demo_db_file)
    assert [state[n][0] for n in numbers[:2]] == ["sent", "sent"]  # the one in flight was finished
    assert [state[n][0] for n in numbers[2:]] == ["queued"] * 3
    assert delivered(server) == collections.Counter(numbers[:2])
    assert heartbeat_state(demo_db_file) == "stopped"


def test_sigkill_then_restart_loses_and_doubles_nothing(demo_db_file, server, tmp_path):
    config = configure(tmp_path, demo_db_file, server)
    numbers = queue(demo_db_file, 5)
    server.faults.hold_data = {2: 3.0}
    process = sender(config)
    assert server.handler.data_started.wait(30)
    process.kill()
    process.wait(10)
    assert records(demo_db_file)[numbers[1]][0] == "sending"
    server.faults.hold_data = {}
    time.sleep(3.2)  # the server finishes what it held (it keeps the message: the client was gone)
    code, out, err = finish(sender(config, "--once"))
    assert code == 0, err
    state = records(demo_db_file)
    assert state[numbers[1]][0] == "unknown"  # in flight when killed: for the operator to decide
    assert all(state[n][0] == "sent" for n in numbers if n != numbers[1])
    assert all(count == 1 for count in delivered(server).values()) and set(delivered(server)) == set(numbers)


def test_a_configuration_others_may_change_is_refused(demo_db_file, server, tmp_path):
    config = configure(tmp_path, demo_db_file, server)
    queue(demo_db_file, 1)
    config.chmod(0o660)
    code, out, err = finish(sender(config, "--once"))
    assert code == 2 and "Configuration refusée" in err and "modifiable par d'autres que root" in err
    os.chown(config, 65534, 0)
    config.chmod(0o640)
    code, out, err = finish(sender(config, "--once"))
    assert code == 2 and "pas à root" in err
    assert server.received == [] and "Traceback" not in err


def test_without_its_password_the_service_sends_nothing_and_says_why(demo_db_file, server, tmp_path):
    config = configure(tmp_path, demo_db_file, server, password=None)
    numbers = queue(demo_db_file, 2)
    code, out, err = finish(sender(config, "--once"))
    assert code == 1, (out, err)
    assert "mot de passe" in (out + err).lower() and "Traceback" not in err
    assert server.received == [] and {records(demo_db_file)[n][0] for n in numbers} == {"queued"}


def test_the_secret_folder_and_file_are_the_services_alone(tmp_path):
    path = service_secret.write_password(tmp_path / "secret", "s3cret")
    assert (path.parent.stat().st_mode & 0o777, path.stat().st_mode & 0o777) == (0o700, 0o600)
    assert service_secret.read_password(tmp_path / "secret").reveal() == "s3cret"
    assert service_secret.read_password(tmp_path / "nothing") is None


def operator_send(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``tuiapp send`` as an operator on the configured base (no --db: the configuration's)."""
    return subprocess.run([sys.executable, "-m", "tuiapp", "send", "--period", "2024-09", "--yes", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **FAST, "TUIAPP_CONFIG": str(config)})


def test_operators_only_queue_and_wait_for_the_service(demo_db_file, server, tmp_path):
    from tests.test_send_faults import keep

    config = configure(tmp_path, demo_db_file, server)
    numbers = keep(demo_db_file, 4)
    alone = operator_send(config)  # no service yet: queued, and said
    assert alone.returncode == 0, alone.stderr
    assert "4 factures en file d'attente : le service d'envoi les enverra." in alone.stdout
    assert "n'a jamais fonctionné sur cette base : prévenez l'administrateur" in alone.stderr
    assert server.received == [] and {records(demo_db_file)[n][0] for n in numbers} == {"queued"}

    never = operator_send(config, "--wait", "--timeout", "5")
    assert never.returncode == 1 and "prévenez l'administrateur" in never.stderr  # nothing new, and no service

    service = sender(config)
    try:
        both = [subprocess.Popen([sys.executable, "-m", "tuiapp", "send", "--period", "2024-09", "--yes",
                                  "--wait", "--timeout", "30"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, **FAST, "TUIAPP_CONFIG": str(config)}) for _ in range(2)]
        results = [process.communicate(timeout=60) + (process.returncode,) for process in both]
    finally:
        service.send_signal(signal.SIGTERM)
        finish(service)
    assert delivered(server) == collections.Counter(numbers)  # queued by three commands, sent once each
    assert all(state[0] == "sent" for number, state in records(demo_db_file).items() if number in numbers)
    assert all(code == 0 and "Terminé : 4 envoyées sur 4." in out for out, _, code in results), results

    with raw(demo_db_file) as connection:  # one more invoice to mail, and the service is stopped
        connection.execute("UPDATE invoice SET last_mailed_at = NULL WHERE number = (SELECT i.number FROM invoice i "
                           "JOIN resident r ON r.id = i.resident_id WHERE i.period_year = 2024 AND i.period_month = 9 "
                           "AND r.email IS NOT NULL AND i.last_mailed_at IS NOT NULL LIMIT 1)")
    stopped = operator_send(config, "--wait", "--timeout", "10")
    assert stopped.returncode == 1 and "service d'envoi arrêté depuis" in stopped.stderr


def test_wait_says_each_outcome_as_the_service_reports_it(demo_db_file, server, tmp_path):
    from tests.test_send_faults import keep

    config = configure(tmp_path, demo_db_file, server)
    numbers = keep(demo_db_file, 3)
    service = sender(config)
    try:
        result = operator_send(config, "--wait", "--timeout", "30")
    finally:
        service.send_signal(signal.SIGTERM)
        finish(service)
    assert result.returncode == 0, result.stderr
    for number in numbers:
        assert f"Facture {number} (" in result.stdout and ") : envoyée." in result.stdout
    assert "Terminé : 3 envoyées sur 3." in result.stdout


def test_in_service_mode_the_rate_holds_whoever_queued(demo_db_file, server, tmp_path):
    """Three operators queue at once; the service alone sends, never more than the rate in any window."""
    from tests.test_pacing_across_processes import never_more_than
    from tests.test_send_faults import keep

    rate, window = 3, 1.0
    config = configure(tmp_path, demo_db_file, server)
    config.write_text(config.read_text().replace("rate_per_minute = 0", f"rate_per_minute = {rate}"))
    numbers = keep(demo_db_file, 7)
    env = {**os.environ, **FAST, "TUIAPP_CONFIG": str(config), "TUIAPP_PACING_WINDOW": str(window)}
    service = subprocess.Popen([sys.executable, "-m", "tuiapp", "sender"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        operators = [subprocess.Popen([sys.executable, "-m", "tuiapp", "send", "--period", "2024-09", "--yes",
                                       "--wait", "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=env) for _ in range(3)]
        results = [process.communicate(timeout=90) + (process.returncode,) for process in operators]
    finally:
        service.send_signal(signal.SIGTERM)
        finish(service)
    assert all(code == 0 for _, _, code in results), results
    assert delivered(server) == collections.Counter(numbers)
    never_more_than(rate, window, sorted(received.at for received in server.received))
    assert server.handler.most_sessions <= 1  # the service alone talks to the server, one connection


def test_the_service_sends_the_secret_only_to_roots_destination(demo_db_file, server, tmp_path):
    """The database's SMTP settings (which every operator can write) aim at a decoy: the service
    ignores them; the decoy never even sees a connection."""
    from tests.smtp_server import SmtpTestServer
    from tuiapp.db.models import Association

    (tmp_path / "decoy").mkdir()
    decoy = SmtpTestServer(tmp_path / "decoy").start()
    opened_at_start = decoy.handler.opened  # the controller's own readiness check
    try:
        config = configure(tmp_path, demo_db_file, server)
        numbers = queue(demo_db_file, 2)
        open_database(demo_db_file)
        association = Association.get_solo()
        association.smtp_host, association.smtp_port, association.smtp_security = "127.0.0.1", decoy.port, "none"
        association.smtp_allow_insecure_auth = True
        association.save()
        release()
        code, out, err = finish(sender(config, "--once"))
        assert code == 0, err
        assert delivered(server) == collections.Counter(numbers)
        assert decoy.received == [] and decoy.handler.opened == opened_at_start
    finally:
        decoy.stop()
