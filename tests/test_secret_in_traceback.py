"""A crash while the SMTP password is held never prints it: no local variables, a masked type."""

from __future__ import annotations

import os
import pickle
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.raw import raw

PASSWORD = "Tr0ub4dor-in-clear-NEVER"

# The real app, with one fault planted: saving the SMTP settings raises an
# exception nobody expects (a bug), while the password typed is held, in clear, in
# a local variable of the failing frame (Textual's own traceback would print it).
LAUNCHER = """
import sys
from tuiapp.services import forms as editing

def broken(values):
    from textual._context import active_app

    typed = active_app.get().screen.query_one("#password").value  # the password, in clear in a local
    raise RuntimeError("panne imprévue pendant l'enregistrement")

editing.save_smtp = broken
from tuiapp.cli import main
sys.exit(main(["--db", sys.argv[1]]))
"""


def read_until(master: int, seen: bytearray, wanted: bytes, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the process has gone: its terminal is closed
                return wanted in seen
            if not chunk:
                return wanted in seen
            seen += chunk
    return wanted in seen


def test_a_crash_with_a_password_typed_does_not_print_it(demo_db_file):
    with raw(demo_db_file) as connection:  # an identifiant goes encrypted (the demo's server has none)
        connection.execute("UPDATE association SET smtp_security = 'starttls'")
    master, slave = pty.openpty()
    env = os.environ.copy() | {"TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    process = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(demo_db_file)],
                               stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = bytearray()
    try:
        assert read_until(master, seen, b"Papillons"), bytes(seen[-2000:])
        os.write(master, b"m")  # the SMTP window, on its scroll area
        assert read_until(master, seen, b"Serveur SMTP de l"), bytes(seen[-2000:])
        assert read_until(master, seen, b"Pas d'identifiant"), bytes(seen[-2000:])  # no account yet
        # Tab to the user name (after the host, the port, the security and its switch): the window then says
        # what the keyring holds for that account.
        os.write(master, b"\t\t\t\tcompta")
        assert read_until(master, seen, "Aucun mot de passe enregistré".encode()), bytes(seen[-2000:])
        os.write(master, b"\t\t" + PASSWORD.encode())  # past the authentication list: the password, masked
        assert read_until(master, seen, "•".encode() * len(PASSWORD)), bytes(seen[-2000:])
        os.write(master, b"\x13")  # Ctrl+S
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            read_until(master, seen, b"\x00", timeout=0.5)  # keep reading: a full terminal would block it
        read_until(master, seen, b"\x00", timeout=0.5)  # the rest of what it printed
        assert process.returncode == 1, bytes(seen[-3000:])  # Textual's exit code after an unhandled exception
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    output = bytes(seen).decode("utf-8", "replace")
    assert "RuntimeError" in output and "panne imprévue" in output  # the traceback was printed...
    assert PASSWORD not in output  # ...without the password
    assert PASSWORD[:12] not in output


def test_a_secret_shows_only_a_mask():
    from tuiapp.mail.secrets import Secret
    from tuiapp.mail.smtp_client import PasswordAuthenticator

    secret = Secret(PASSWORD)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{[secret]}", f"{ {'p': secret} }"):
        assert PASSWORD not in shown and "****" in shown
    assert secret.reveal() == PASSWORD
    assert secret == Secret(PASSWORD) and secret != Secret("other") and secret != PASSWORD
    assert Secret("") == Secret("") and not Secret("") and secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        hash(secret)
    authenticator = PasswordAuthenticator("compta", lambda: secret)
    assert PASSWORD not in repr(authenticator)
