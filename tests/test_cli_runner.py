"""tests/cli_runner.py: the real command in the test process, every global it touched given back."""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tuiapp import __version__
from tuiapp.db.database import db


def test_a_usage_error_exits_2_with_argparses_message_on_stderr():
    result = run_cli("send", "--db", "nowhere.db")  # --period is required

    assert result.returncode == 2
    assert result.stdout == ""
    assert "--period" in result.stderr and "erreur" in result.stderr


def test_version_and_help_exit_0_on_stdout():
    version = run_cli("--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"tuiapp {__version__}")

    helped = run_cli("send", "--help")
    assert helped.returncode == 0
    assert "--period" in helped.stdout and helped.stderr == ""


def test_the_command_reports_its_own_exit_code_and_french_errors(tmp_path):
    result = run_cli("history", "--db", str(tmp_path / "absent.db"))

    assert result.returncode == 2
    assert "n'existe pas" in result.stderr and "Traceback" not in result.stderr


class _Terminal(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_the_password_is_read_from_the_given_stdin_never_the_terminal(tmp_path, monkeypatch):
    from tests import cli_runner
    from tuiapp.mail import secrets

    base = tmp_path / "base.db"
    assert run_cli("init", "--db", str(base)).returncode == 0
    assert run_cli("smtp", "set", "--db", str(base), "--host", "smtp.example.org", "--username", "me@example.org",
                   "--port", "587").returncode == 0

    # A standard input that says it is a terminal: the command then asks through getpass, which
    # must read the given text and not /dev/tty.
    with monkeypatch.context() as patch:
        patch.setattr(cli_runner, "_input", lambda text: _Terminal(io.BytesIO(text.encode()), encoding="utf-8"))
        real_open = os.open

        def no_terminal(path, *args, **kwargs):
            assert path != "/dev/tty", "the terminal was read"
            return real_open(path, *args, **kwargs)

        patch.setattr(os, "open", no_terminal)
        typed = run_cli("smtp", "password", "--db", str(base), stdin="pass-1\npass-1\n")
    assert typed.returncode == 0, typed.stderr
    assert "Confirmez" in typed.stderr  # asked twice, as on a terminal
    assert secrets.get_password("smtp.example.org", "me@example.org").reveal() == "pass-1"

    piped = run_cli("smtp", "password", "--db", str(base), stdin="pass-2\n")
    assert piped.returncode == 0, piped.stderr
    assert secrets.get_password("smtp.example.org", "me@example.org").reveal() == "pass-2"


def test_the_environment_is_set_for_the_call_then_given_back(tmp_path):
    before = dict(os.environ)
    base = tmp_path / "from-env.db"

    result = run_cli("init", env={"TUIAPP_DB": str(base), "TUIAPP_DB_WAIT": None})

    assert result.returncode == 0, result.stderr
    assert base.is_file()  # the command saw TUIAPP_DB
    assert dict(os.environ) == before


def test_the_working_directory_is_the_given_one_then_given_back(tmp_path):
    before = os.getcwd()
    work = tmp_path / "work"
    work.mkdir()

    result = run_cli("init", "--db", "relative.db", cwd=work)

    assert result.returncode == 0, result.stderr
    assert (work / "relative.db").is_file()
    assert os.getcwd() == before


@pytest.mark.sqlite_only  # the runner's own bookkeeping of the SQLite binding (its file name)
def test_the_commands_database_is_closed_and_the_tests_own_given_back(tmp_path, demo_db):
    first, second = tmp_path / "one.db", tmp_path / "two.db"

    assert run_cli("init", "--db", str(first)).returncode == 0
    assert not db.is_closed() and db.database == str(demo_db)  # the test's connection, open again

    db.close()
    assert run_cli("init", "--db", str(second)).returncode == 0
    assert db.is_closed() and db.database == str(demo_db)
    from tuiapp.db.models import Structure

    assert Structure.select().count() > 0  # autoconnect: the demo base, not the command's


def test_an_exception_escaping_main_propagates_with_every_global_given_back(tmp_path, monkeypatch):
    from tuiapp.cli import base

    def broken(args):
        signal.signal(signal.SIGTERM, lambda *_: None)
        os.environ["TUIAPP_LEFT_BEHIND"] = "1"
        os.chdir(tmp_path)
        from tuiapp.db.database import open_database

        open_database(tmp_path / "opened.db")
        print("half", flush=True)
        raise RuntimeError("bug")

    streams, cwd, handler = (sys.stdin, sys.stdout, sys.stderr), os.getcwd(), signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(base, "init_base", broken)

    with pytest.raises(RuntimeError, match="bug"):
        run_cli("init", "--db", str(tmp_path / "x.db"))

    assert (sys.stdin, sys.stdout, sys.stderr) == streams
    assert os.getcwd() == cwd and "TUIAPP_LEFT_BEHIND" not in os.environ
    assert signal.getsignal(signal.SIGTERM) is handler
    assert db.is_closed()


def test_output_is_utf8_text_and_bytes(tmp_path):
    base = tmp_path / "é.db"

    result = run_cli("init", "--db", str(base))

    assert "é.db" in result.stdout
    assert result.stdout_bytes == result.stdout.encode("utf-8")
    assert isinstance(Path(result.args[-1]), Path)


def test_each_run_is_a_process_of_its_own_that_has_ended_since(tmp_path, monkeypatch):
    """A claim of one run is a dead process's for the next run and for the test (as after a real
    process): ``tuiapp send`` then recovers it rather than waiting for it."""
    from tuiapp.cli import base
    from tuiapp.sending import journal, outbox

    seen = []

    def command(args):
        seen.append(outbox.process_tag())
        journal._in_flight.add(12345)  # a record it was sending when it "died"
        return 0

    monkeypatch.setattr(base, "init_base", command)
    own = outbox.process_tag()
    assert run_cli("init").returncode == 0 and run_cli("init").returncode == 0

    first, second = seen
    assert len({own, first, second}) == 3
    assert outbox.holder_gone(first) and outbox.holder_gone(second)
    assert not outbox.holder_gone(own) and outbox.process_tag() == own
    assert not journal.in_flight(12345)
