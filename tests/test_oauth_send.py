"""Office 365's OAuth 2.0 end to end (issue 12): the real command (in the test process, and as
real processes where the point is another process: the device-code sign-in, the tokens renewed
by the next processes, the sender service), a strict fake identity
provider over HTTPS on loopback (``tests.fake_idp``) and a real SMTP server that checks the
XOAUTH2 string and the token (``tests.smtp_server``, ``oauth=``). Only Microsoft's endpoints are
stood in for; smtplib is never mocked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_idp import FakeIdentityProvider, make_client_certificate
from tests.raw import raw
from tests.smtp_server import SmtpTestServer
from tests.test_cli_send import PERIOD, TO_SEND, mailable, statuses, stored, tuiapp, tuiapp_process
from tuiapp.locations import journal_dir

CLIENT_ID = "0b6f5a7e-2c1d-4e8f-9a3b-7d5c1e2f4a60"
SECRET = "Zq8~app-secret-for-tests.Kp2"
FAST = {"TUIAPP_DEVICE_POLL": "0.2", "TUIAPP_TOKEN_MARGIN": "0.5"}


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def idp(tmp_path):
    with FakeIdentityProvider(tmp_path, token_lifetime=2.0, device_lifetime=20) as provider:
        yield provider


@pytest.fixture
def office365(tmp_path, idp):
    """Office 365 for a tenant without basic authentication: XOAUTH2 only."""
    server = SmtpTestServer(tmp_path, oauth=idp).start()
    yield server
    server.stop()


@pytest.fixture
def trusted(tmp_path, idp, office365) -> Path:
    """One CA file for both: the association's trust is the system's plus this file."""
    path = tmp_path / "both-ca.pem"
    path.write_bytes(Path(office365.ca_file).read_bytes() + Path(idp.ca_file).read_bytes())
    return path


def _set(db, idp, office365, trusted, *extra) -> None:
    result = tuiapp("smtp", "set", *db, "--host", "127.0.0.1", "--port", str(office365.port), "--security",
                    "starttls", "--username", idp.mailbox, "--ca-file", str(trusted), "--rate", "0",
                    "--tenant", idp.tenant, "--client-id", CLIENT_ID, "--authority", idp.authority, *extra)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def small_oauth(demo_db_file, idp, office365, trusted):
    """The demo base with a few of September's invoices left to mail, pointed at Office 365."""
    db = ["--db", str(demo_db_file)]
    with raw(demo_db_file) as connection:
        numbers = [n for (n,) in connection.execute(
            "SELECT i.number FROM invoice i JOIN resident r ON r.id = i.resident_id WHERE i.period_year = 2024 "
            "AND i.period_month = 9 AND (coalesce(r.email, '') != '' OR coalesce(r.guardian_email, '') != '') "
            "ORDER BY i.number")]
        kept = numbers[:TO_SEND]
        connection.execute(f"UPDATE invoice SET last_mailed_at = '2024-10-03 09:30:00' WHERE period_year = 2024 "
                           f"AND period_month = 9 AND number NOT IN ({', '.join('?' * len(kept))})", kept)
    assert len(mailable(demo_db_file)) == TO_SEND
    return db


def _secrets_in(path: Path, *secrets: str) -> list[str]:
    """Which of ``secrets`` appear in the bytes of ``path`` (a file, or every file under a folder)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    found = []
    for file in files:
        data = file.read_bytes()
        found += [s for s in secrets if s and s.encode() in data]
    return found


def _secrets_in_base(target, *secrets: str) -> list[str]:
    """Which of ``secrets`` the base keeps (its file and WAL, or every row of a PostgreSQL base) or
    its send journal holds."""
    kept = stored(target)
    return [s for s in secrets if s and s.encode() in kept] + _secrets_in(journal_dir(target), *secrets)


def test_app_only_with_a_client_secret_delivers_a_batch(small_oauth, idp, office365, demo_db_file, trusted):
    idp.register_app(CLIENT_ID, secret=SECRET)
    _set(small_oauth, idp, office365, trusted, "--auth", "oauth2-app")
    stored = tuiapp("smtp", "secret", *small_oauth, stdin=SECRET + "\n")
    assert stored.returncode == 0, stored.stderr
    show = tuiapp("smtp", "show", *small_oauth)
    assert "OAuth 2.0, application" in show.stdout and "secret enregistré" in show.stdout

    sent = tuiapp("send", *small_oauth, "--period", PERIOD, "--yes")

    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(office365.received) == TO_SEND and mailable(demo_db_file) == []
    assert statuses(demo_db_file)["sent"] >= TO_SEND
    attempts = office365.handler.xoauth2_attempts
    assert attempts and all(ok and user == idp.mailbox for user, _, ok in attempts)
    assert [grant for grant, _, ok in idp.token_requests if ok] == ["client_credentials"] * len(
        [1 for grant, _, ok in idp.token_requests if ok])
    leaked = [*idp.issued_access_tokens, SECRET]
    assert _secrets_in_base(demo_db_file, *leaked) == []
    assert not any(s in sent.stdout + sent.stderr + show.stdout for s in leaked)


def test_app_only_with_a_certificate_delivers_a_batch(small_oauth, idp, office365, demo_db_file, tmp_path):
    pem = tmp_path / "tuiapp-app.pem"
    idp.register_app(CLIENT_ID, certificate_pem=make_client_certificate(pem))
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-app", "--certificate", str(pem))

    sent = tuiapp("send", *small_oauth, "--period", PERIOD, "--yes")

    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(office365.received) == TO_SEND and mailable(demo_db_file) == []
    assert any(grant == "client_credentials" and ok for grant, _, ok in idp.token_requests)
    key = re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\n(.{40})", pem.read_bytes()).group(1).decode()
    assert _secrets_in_base(demo_db_file, key, *idp.issued_access_tokens) == []


def test_a_wrong_client_secret_stops_the_batch_with_a_french_message(small_oauth, idp, office365, demo_db_file,
                                                                      tmp_path):
    idp.register_app(CLIENT_ID, secret=SECRET)
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-app")
    assert tuiapp("smtp", "secret", *small_oauth, stdin="not-the-secret\n").returncode == 0

    sent = tuiapp("send", *small_oauth, "--period", PERIOD, "--yes")

    assert sent.returncode != 0
    assert "tuiapp smtp secret" in sent.stdout + sent.stderr and "Traceback" not in sent.stderr
    assert office365.received == [] and len(mailable(demo_db_file)) == TO_SEND
    with raw(demo_db_file) as connection:  # nothing marked sent for September's batch
        assert connection.execute("SELECT count(*) FROM invoice WHERE period_month = 9 AND period_year = 2024 "
                                  "AND last_mailed_at > '2024-10-04'").fetchone()[0] == 0
    assert "not-the-secret" not in sent.stdout + sent.stderr


def _start_login(db, *extra) -> tuple[subprocess.Popen, str, str]:
    """``tuiapp smtp login`` started; returns it, the code it printed, and what it printed so far."""
    process = subprocess.Popen([sys.executable, "-m", "tuiapp", "smtp", "login", *db, *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        printed += line
        if match := re.search(r"saisissez le code : (\S+)", line):
            return process, match.group(1), printed
    process.kill()
    raise AssertionError(printed + (process.stderr.read() if process.stderr else ""))


def _login(db, idp, *extra) -> tuple[subprocess.CompletedProcess, str]:
    """``tuiapp smtp login``: the code it prints is typed at the provider (``idp.approve``)."""
    process, code, printed = _start_login(db, *extra)
    idp.approve(code)
    out, err = process.communicate(timeout=20)
    return subprocess.CompletedProcess(process.args, process.returncode, printed + out, err), code


def test_device_code_sign_in_then_renewed_tokens_in_other_processes(small_oauth, idp, office365, demo_db_file,
                                                                     tmp_path):
    idp.register_app(CLIENT_ID, public=True)
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-device")
    not_yet = tuiapp("send", *small_oauth, "--period", PERIOD, "--yes")
    assert not_yet.returncode != 0 and "tuiapp smtp login" in not_yet.stdout + not_yet.stderr

    signed, code = _login(small_oauth, idp)

    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert f"Connecté : {idp.mailbox}" in signed.stdout and code in signed.stdout
    show = tuiapp("smtp", "show", *small_oauth)
    assert f"Connexion      : {idp.mailbox}" in show.stdout
    first_refresh = idp.issued_refresh_tokens[-1]

    time.sleep(2.2)  # the access token (2 s) has expired: the next process renews it without a question
    sent = tuiapp_process("send", *small_oauth, "--period", PERIOD, "--yes")

    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(office365.received) == TO_SEND
    assert idp.issued_refresh_tokens[-1] != first_refresh  # rotated, and the rotated one was saved:
    time.sleep(2.2)
    tested = tuiapp_process("smtp", "test", *small_oauth)  # a third process refreshes with it (the first is spent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "Jeton accepté" in tested.stdout
    assert ("refresh_token", CLIENT_ID, False) not in idp.token_requests
    leaked = [*idp.issued_access_tokens, *idp.issued_refresh_tokens]
    for output in (signed.stdout, signed.stderr, show.stdout, sent.stdout, sent.stderr, tested.stdout):
        assert not any(token in output for token in leaked)
    # The tokens are in the keyring's file, and in no other file: not the database, its WAL, the send
    # journal beside it, nor anything else tuiapp wrote for this user; nor in a row of a PostgreSQL base.
    keyring_file = next(Path(os.environ["XDG_DATA_HOME"]).rglob("keyring_pass.cfg"))
    import keyring

    cache = keyring.get_password(f"tuiapp-oauth-cache:{idp.authority}/{idp.tenant}".lower(),
                                 f"{CLIENT_ID}:{idp.mailbox}".lower())
    assert cache is not None and idp.issued_refresh_tokens[-1] in cache
    written = [p for p in [*tmp_path.rglob("*"), *Path(os.environ["HOME"]).rglob("*")]
               if p.is_file() and p != keyring_file]
    assert written and [p for p in written if _secrets_in(p, *leaked)] == []
    assert _secrets_in_base(demo_db_file, *leaked) == []


def test_a_revoked_grant_is_explained_and_nothing_is_marked_sent(small_oauth, idp, office365, demo_db_file,
                                                                   tmp_path):
    idp.register_app(CLIENT_ID, public=True)
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-device")
    assert _login(small_oauth, idp)[0].returncode == 0
    idp.revoke()
    idp.expire_access_tokens()
    time.sleep(2.1)

    sent = tuiapp("send", *small_oauth, "--period", PERIOD, "--yes")

    assert sent.returncode != 0
    text = sent.stdout + sent.stderr
    assert "tuiapp smtp login" in text and "Traceback" not in text
    assert office365.received == [] and len(mailable(demo_db_file)) == TO_SEND
    assert "Connexion      : aucune (tuiapp smtp login)" in tuiapp("smtp", "show", *small_oauth).stdout


def test_login_exit_codes(small_oauth, idp, office365, tmp_path):
    idp.register_app(CLIENT_ID, public=True)
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-app")
    wrong_method = tuiapp("smtp", "login", *small_oauth)
    assert wrong_method.returncode == 2 and "oauth2-device" in wrong_method.stderr
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-device")

    waited = tuiapp("smtp", "login", *small_oauth, "--timeout", "1")
    assert waited.returncode == 1 and "à temps" in waited.stderr and "Traceback" not in waited.stderr

    declined, code, _ = _start_login(small_oauth)
    idp.decline(code)
    out, err = declined.communicate(timeout=20)
    assert declined.returncode == 1 and "refusée" in err and "Traceback" not in err, err

    unknown_app = tuiapp("smtp", "set", *small_oauth, "--client-id", "11111111-2222-3333-4444-555555555555")
    assert unknown_app.returncode == 0
    refused = tuiapp("smtp", "login", *small_oauth, "--timeout", "5")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr


def test_a_refused_token_is_renewed_once_then_the_batch_stops(small_oauth, idp, office365, demo_db_file, tmp_path):
    idp.register_app(CLIENT_ID, secret=SECRET)
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-app")
    assert tuiapp("smtp", "secret", *small_oauth, stdin=SECRET + "\n").returncode == 0
    office365.faults.auth_replies = ["535 5.7.3 Authentication unsuccessful"] * 5

    sent = tuiapp("send", *small_oauth, "--period", PERIOD, "--yes")

    assert sent.returncode != 0
    assert len(office365.faults.auth_replies) == 3  # two AUTHs: the first token, then one fresh one
    assert sum(1 for grant, _, ok in idp.token_requests if ok) == 2
    assert office365.received == [] and len(mailable(demo_db_file)) == TO_SEND
    assert "Traceback" not in sent.stderr


def test_smtp_auth_disabled_for_the_mailbox_says_what_to_switch_on(small_oauth, idp, office365, tmp_path):
    idp.register_app(CLIENT_ID, secret=SECRET)
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-app")
    assert tuiapp("smtp", "secret", *small_oauth, stdin=SECRET + "\n").returncode == 0
    office365.faults.auth_replies = [
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox"]

    tested = tuiapp("smtp", "test", *small_oauth)

    assert tested.returncode == 2
    assert "Set-CASMailbox" in tested.stderr and "authentification" in tested.stderr


def test_the_identity_provider_is_trusted_through_the_ca_file_only(small_oauth, idp, office365, tmp_path,
                                                                   monkeypatch):
    idp.register_app(CLIENT_ID, secret=SECRET)
    _set(small_oauth, idp, office365, tmp_path / "both-ca.pem", "--auth", "oauth2-app")
    assert tuiapp("smtp", "secret", *small_oauth, stdin=SECRET + "\n").returncode == 0
    # An environment variable never replaces the trust store: a bundle without our CA changes nothing.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(office365.ca_file))
    assert tuiapp("smtp", "test", *small_oauth).returncode == 0
    # Without the provider's CA in the association's file, its certificate is refused, in French.
    assert tuiapp("smtp", "set", *small_oauth, "--ca-file", str(office365.ca_file)).returncode == 0
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "both-ca.pem"))
    tested = tuiapp("smtp", "test", *small_oauth)
    assert tested.returncode == 2 and "étape « jeton »" in tested.stderr and "certificat" in tested.stderr
    assert sum(1 for grant, _, _ in idp.token_requests if grant == "client_credentials") == 1  # the first test's


def _service_site(tmp_path, database, service_user, monkeypatch, idp, office365, trusted, method) -> Path:
    """A root-owned service-mode configuration for ``service_user``, set through ``sudo tuiapp smtp set``
    for Office 365 with ``method``; returns the service's secret folder."""
    secret_dir = tmp_path / "secret"
    config = tmp_path / "tuiapp.toml"
    config.write_text(f'database = "{database}"\nmode = "service"\nsecret_dir = "{secret_dir}"\n'
                      f'service_user = "{service_user}"\n\n[smtp]\nhost = "127.0.0.1"\n', encoding="utf-8")
    os.chown(config, 0, 0)
    config.chmod(0o640)
    monkeypatch.setenv("TUIAPP_CONFIG", str(config))
    result = tuiapp("smtp", "set", "--port", str(office365.port), "--username", idp.mailbox, "--ca-file", str(trusted),
                    "--rate", "0", "--auth", method, "--tenant", idp.tenant, "--client-id", CLIENT_ID,
                    "--authority", idp.authority)
    assert result.returncode == 0, result.stderr
    assert f'auth_method = "{method}"' in config.read_text()
    return secret_dir


@pytest.mark.skipif(os.getuid() != 0, reason="the service trusts only a root-owned configuration")
def test_service_mode_root_signs_in_for_the_sender_service(demo_db_file, idp, office365, trusted, tmp_path,
                                                           monkeypatch):
    """``sudo tuiapp smtp set/login``: the destination and the application in root's configuration, the
    token cache in the service's own folder (0600), and the sender service sends with it."""
    from tests.test_send_faults import records
    from tests.test_sender_service import FAST as SERVICE_FAST
    from tests.test_sender_service import queue

    idp.register_app(CLIENT_ID, public=True)
    for name, value in SERVICE_FAST.items():
        monkeypatch.setenv(name, value)
    secret_dir = _service_site(tmp_path, demo_db_file, "root", monkeypatch, idp, office365, trusted, "oauth2-device")
    config = tmp_path / "tuiapp.toml"

    signed, _ = _login([], idp)

    assert signed.returncode == 0, signed.stdout + signed.stderr
    cache = secret_dir / "oauth-token-cache"
    assert cache.stat().st_mode & 0o777 == 0o600 and secret_dir.stat().st_mode & 0o777 == 0o700
    assert "le dossier du service d'envoi" in signed.stdout
    numbers = queue(demo_db_file, 3)
    time.sleep(2.1)  # its access token has expired: the service renews it with the refresh token
    drained = subprocess.run([sys.executable, "-m", "tuiapp", "sender", "--config", str(config), "--once"],
                             capture_output=True, text=True, timeout=60)
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert all(records(demo_db_file)[number][0] == "sent" for number in numbers)
    assert len(office365.received) == 3
    assert [grant for grant, _, ok in idp.token_requests if ok][-1] == "refresh_token"
    assert _secrets_in_base(demo_db_file, *idp.issued_refresh_tokens, *idp.issued_access_tokens) == []
    logged = drained.stdout + drained.stderr + signed.stdout + signed.stderr  # the service's log: its output
    assert not any(token in logged for token in [*idp.issued_refresh_tokens, *idp.issued_access_tokens])
    logged_out = tuiapp("smtp", "logout")
    assert logged_out.returncode == 0 and not cache.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="root's commands for the service account")
def test_roots_test_leaves_the_token_cache_and_lock_to_the_service(demo_db_file, idp, office365, trusted, tmp_path,
                                                                   monkeypatch):
    """``sudo tuiapp smtp test`` renews the token as the service would: what it writes in the
    service's folder stays the service account's, or the service could not renew afterwards."""
    import pwd

    service = pwd.getpwnam("nobody")
    idp.register_app(CLIENT_ID, secret=SECRET)
    secret_dir = _service_site(tmp_path, demo_db_file, "nobody", monkeypatch, idp, office365, trusted, "oauth2-app")
    assert tuiapp("smtp", "secret", stdin=SECRET + "\n").returncode == 0

    tested = tuiapp("smtp", "test")

    assert tested.returncode == 0, tested.stdout + tested.stderr
    for name in ("oauth-client-secret", "oauth-token-cache", "oauth.lock"):
        info = (secret_dir / name).stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (service.pw_uid, service.pw_gid, 0o600), name
    info = secret_dir.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (service.pw_uid, 0o700)


def test_an_unusable_certificate_is_refused_when_set(small_oauth, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.test_identity import _pem

    pem = _pem(tmp_path / "ec.pem", ec.generate_private_key(ec.SECP256R1()))
    result = tuiapp("smtp", "set", *small_oauth, "--auth", "oauth2-app", "--certificate", str(pem))
    assert result.returncode == 2 and "la clé doit être RSA" in result.stderr and "Traceback" not in result.stderr
    shown = tuiapp("smtp", "show", *small_oauth).stdout
    assert "Méthode        : mot de passe" in shown  # nothing was changed
