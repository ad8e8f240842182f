"""The association's server end to end, with real Unix accounts: ``server setup``, root's SMTP settings and
password, the sender service under its own account, two operators queueing the same period at once, an
outsider, an operator trying to redirect the secret. Needs root (CI runs as root)."""

from __future__ import annotations

import collections
import os
import pwd
import secrets as random_names
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.smtp_server import PASSWORD, USERNAME
from tests.unix_accounts import Account, Office

# The service beats every 0.2 s; an operator's command takes it for stopped after 10 s without a
# beat. No test waits for that time (a service stopped says so at once): it only has to outlast a
# starved beat on a loaded machine (2 s did not, once, in CI under other work: "arrêté depuis 2 s").
FAST = {"TUIAPP_HEARTBEAT": "0.2", "TUIAPP_SENDER_POLL": "0.1", "TUIAPP_SENDER_RETRY": "0.5",
        "TUIAPP_HEARTBEAT_STALE": "10"}


@pytest.fixture
def site(office, server, tmp_path, _demo_template):
    """``server setup`` for the office's group, the demo's invoices in the base, root's SMTP settings
    aimed at the test server and the password stored for the service; yields (config, database, service user)."""
    base = Path(tempfile.mkdtemp(prefix="tuiapp-site-"))
    base.chmod(0o755)
    service_user = f"ts{random_names.token_hex(3)}"
    config = base / "etc" / "tuiapp.toml"
    data = base / "srv"
    try:
        root = {**os.environ, "TUIAPP_CONFIG": str(config)}
        setup = subprocess.run(
            [sys.executable, "-m", "tuiapp", "server", "setup", "--group", office.group,
             "--admin-group", f"{office.group}a", "--service-user", service_user, "--dir", str(data),
             "--config", str(config), "--unit-dir", str(base / "units"), "--no-systemd"],
            capture_output=True, text=True, timeout=120, env=root)
        assert setup.returncode == 0, setup.stderr
        database = data / "tuiapp.db"
        # The demo's rows written into the base that setup made (its file keeps its owner and mode).
        with sqlite3.connect(_demo_template) as demo, sqlite3.connect(database) as target:
            demo.backup(target)
        demo.close()
        target.close()
        keep_four(database)
        ca_file = base / "ca.pem"  # the test's authority, where the service account can read it
        shutil.copy(server.ca_file, ca_file)
        ca_file.chmod(0o644)
        smtp = subprocess.run([sys.executable, "-m", "tuiapp", "smtp", "set", "--host", "127.0.0.1", "--port",
                               str(server.port), "--security", "starttls", "--username", USERNAME, "--ca-file",
                               str(ca_file), "--rate", "0"], capture_output=True, text=True, timeout=60, env=root)
        assert smtp.returncode == 0, smtp.stderr
        password = subprocess.run([sys.executable, "-m", "tuiapp", "smtp", "password"], input=PASSWORD + "\n",
                                  capture_output=True, text=True, timeout=60, env=root)
        assert password.returncode == 0, password.stderr
        yield config, database, Account(service_user)
    finally:
        subprocess.run(["userdel", service_user], capture_output=True, timeout=30)
        subprocess.run(["groupdel", f"{office.group}a"], capture_output=True, timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def keep_four(database: Path) -> None:
    """Only four invoices of September left to mail: the others marked as mailed."""
    with sqlite3.connect(database) as raw:
        numbers = [row[0] for row in raw.execute(
            "SELECT i.number FROM invoice i JOIN resident r ON r.id = i.resident_id WHERE i.period_year = 2024 "
            "AND i.period_month = 9 AND (r.email IS NOT NULL OR r.guardian_email IS NOT NULL) ORDER BY i.id")]
        raw.executemany("UPDATE invoice SET last_mailed_at = '2024-10-01T08:00:00+00:00' WHERE number = ?",
                        [(number,) for number in numbers[4:]])


def as_user(office: Office, account: Account, config: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([office.python, *args], **account.as_me(), cwd="/", text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**office.env, **FAST, "TUIAPP_CONFIG": str(config)}, **popen)


def done(process: subprocess.Popen, timeout: float = 90) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def statuses(database: Path) -> collections.Counter:
    with sqlite3.connect(database) as raw:
        return collections.Counter(row[0] for row in raw.execute("SELECT status FROM send_record"))


def test_two_operators_queue_at_once_and_the_service_sends_each_invoice_once(office, site, server):
    config, database, service = site
    sender = as_user(office, service, config, "-m", "tuiapp", "sender")
    try:
        operators = [as_user(office, who, config, "-m", "tuiapp", "send", "--period", "2024-09", "--yes", "--wait",
                             "--timeout", "60") for who in (office.alice, office.bob)]
        results = [done(process) for process in operators]
    finally:
        sender.send_signal(signal.SIGTERM)
        code, out, err = done(sender)
    assert code == 0, err
    for returncode, out, err in results:
        assert returncode == 0, err
        assert "Terminé : " in out and "Traceback" not in err
    numbers = [next(r.message.iter_attachments()).get_filename().split("_")[1] for r in server.received]
    assert len(numbers) == 4 and len(set(numbers)) == 4  # each invoice once
    assert set(statuses(database)) == {"sent"}  # the demo's history, and these four
    secret = Path(config.read_text().split('secret_dir = "')[1].split('"')[0]) / "smtp-password"
    for who in (office.alice, office.bob, office.carol):
        peek = office.run(who, "-c", f"open({str(secret)!r}).read()")
        assert peek.returncode != 0 and "PermissionError" in peek.stderr, who
    assert pwd.getpwuid(secret.stat().st_uid).pw_name == service.name and secret.stat().st_mode & 0o777 == 0o600


def test_an_operator_cannot_redirect_the_secret(office, site):
    config, _, _ = site
    before = config.read_bytes()
    for change in (["--host", "evil.example.org"], ["--port", "25"], ["--security", "none"]):
        code, out, err = done(as_user(office, office.alice, config, "-m", "tuiapp", "smtp", "set", *change))
        assert code == 2 and "réglés par l'administrateur (root) : sudo tuiapp smtp" in err, (change, err)
        assert "Traceback" not in err
    code, out, err = done(as_user(office, office.bob, config, "-m", "tuiapp", "smtp", "password"), timeout=60)
    assert code == 2 and "sudo tuiapp smtp password" in err
    assert config.read_bytes() == before
    code, out, err = done(as_user(office, office.alice, config, "-m", "tuiapp", "smtp", "show"))
    assert code == 0 and "Serveur        : 127.0.0.1" in out and "détenu par le service d'envoi" in out


def test_someone_outside_the_group_is_told_why(office, site):
    config, database, _ = site
    code, out, err = done(as_user(office, office.carol, config, "-m", "tuiapp", "where"))
    assert code == 2 and "illisible pour votre compte" in err and "Traceback" not in err
    listing = sorted(p.name for p in database.parent.iterdir())
    code, out, err = done(as_user(office, office.carol, config, "-m", "tuiapp", "history", "--db", str(database)))
    assert code == 2 and "Traceback" not in err
    assert sorted(p.name for p in database.parent.iterdir()) == listing


def test_an_operators_test_message_is_sent_by_the_service(office, site, server):
    config, _, service = site
    sender = as_user(office, service, config, "-m", "tuiapp", "sender")
    try:
        code, out, err = done(as_user(office, office.alice, config, "-m", "tuiapp", "smtp", "test", "--to",
                                      "essai@example.org", "--structure", "FH"))
    finally:
        sender.send_signal(signal.SIGTERM)
        done(sender)
    assert code == 0, err
    assert "Message d'essai envoyé par le service à essai@example.org" in out and "Réponse du serveur : 250" in out
    [message] = [r for r in server.received if r.rcpt_tos == ["essai@example.org"]]
    assert "Message d'essai de tuiapp" in message.message["Subject"]
    code, out, err = done(as_user(office, office.alice, config, "-m", "tuiapp", "smtp", "test"))
    assert code == 2 and "le service d'envoi fait l'essai : tuiapp smtp test --to ADRESSE" in err


def test_operators_withdraw_their_own_queued_invoices_and_only_admins_anyones(office, site, server):
    config, database, _ = site  # no service running: what is queued waits
    code, out, err = done(as_user(office, office.alice, config, "-m", "tuiapp", "send", "--period", "2024-09",
                                  "--yes"))
    assert code == 0 and "4 factures en file d'attente" in out, err
    code, out, err = done(as_user(office, office.bob, config, "-m", "tuiapp", "withdraw", "--period", "2024-09",
                                  "--all"))
    assert code == 2 and "Réservé aux administrateurs" in err and statuses(database)["queued"] == 4
    code, out, err = done(as_user(office, office.bob, config, "-m", "tuiapp", "withdraw", "--period", "2024-09"))
    assert code == 0 and f"0 facture de {office.bob.name} retirée de" in out and statuses(database)["queued"] == 4
    code, out, err = done(as_user(office, office.alice, config, "-m", "tuiapp", "withdraw", "--period", "2024-09"))
    assert code == 0 and f"4 factures de {office.alice.name} retirées de" in out
    assert statuses(database)["queued"] == 0 and server.received == []
    root = subprocess.run([sys.executable, "-m", "tuiapp", "withdraw", "--period", "2024-09", "--all"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "TUIAPP_CONFIG": str(config)})
    assert root.returncode == 0 and "de tous les opérateurs" in root.stdout  # root: every right
