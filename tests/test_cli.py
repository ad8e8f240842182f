"""The ``tuiapp`` command: in the test process (``tests.cli_runner``), and as a real process for
its help and version."""

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.cli_runner import run_cli as tuiapp


def tuiapp_process(*args):
    return subprocess.run([sys.executable, "-m", "tuiapp", *args], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())


def test_help_and_version():
    """The real command, end to end."""
    result = tuiapp_process("--help")
    assert result.returncode == 0
    for word in ("init-demo", "--db", "--version"):
        assert word in result.stdout
    from tuiapp import __version__

    version = tuiapp_process("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"tuiapp {__version__}"


def test_init_demo_twice(tmp_path):
    path = tmp_path / "demo.db"
    first = tuiapp("init-demo", "--db", str(path))
    assert first.returncode == 0, first.stderr
    assert "créée" in first.stdout
    with sqlite3.connect(path) as raw:
        counts = raw.execute("SELECT (SELECT count(*) FROM resident), (SELECT count(*) FROM invoice)").fetchone()
    second = tuiapp("init-demo", "--db", str(path))
    assert second.returncode == 0, second.stderr
    assert "déjà présente" in second.stdout
    with sqlite3.connect(path) as raw:
        assert raw.execute(
            "SELECT (SELECT count(*) FROM resident), (SELECT count(*) FROM invoice)"
        ).fetchone() == counts
    assert counts[0] >= 120


def test_init_demo_refuses_a_real_database(tmp_path):
    path = tmp_path / "real.db"
    assert tuiapp("init", "--db", str(path)).returncode == 0
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO structure (code, name, address, sender_name, subject_template, body_template) "
                    "VALUES ('FH', 'Foyer', '', '', '', '')")
    result = tuiapp("init-demo", "--db", str(path), "--reset")
    assert result.returncode == 2
    assert "données réelles" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT count(*) FROM resident").fetchone()[0] == 0


def test_db_option_before_or_after_the_command(tmp_path):
    path = tmp_path / "x.db"
    assert tuiapp("--db", str(path), "init").returncode == 0
    assert "déjà présente" in tuiapp("init", "--db", str(path)).stdout


def test_db_from_environment(tmp_path):
    path = tmp_path / "env.db"
    result = tuiapp("init", env={"TUIAPP_DB": str(path)})
    assert result.returncode == 0, result.stderr
    assert path.exists() and str(path) in result.stdout


@pytest.mark.parametrize("content", [None, b"not a database at all" * 50])
def test_bad_database_is_a_clear_error(tmp_path, content):
    path = tmp_path / "typo.db"
    if content is not None:
        path.write_bytes(content)
    result = tuiapp("--db", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("Erreur : ")
    assert "Traceback" not in result.stderr
    if content is None:
        assert "tuiapp init --db" in result.stderr
        assert not path.exists()  # a typo never creates a stray empty database


def test_init_demo_refuses_a_configured_association(tmp_path):
    path = tmp_path / "real.db"
    assert tuiapp("init", "--db", str(path)).returncode == 0
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO association (id, name, address, smtp_host, smtp_port, smtp_security, smtp_username, "
                    "smtp_auth_method, smtp_timeout, smtp_rate_per_minute, smtp_allow_insecure_auth) "
                    "VALUES (1, 'Les Papillons', '', 'smtp.office365.com', 587, 'starttls', 'compta@example.org', "
                    "'password', 30, 30, 0)")
    result = tuiapp("init-demo", "--db", str(path))
    assert result.returncode == 2 and "données réelles" in result.stderr
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT name, smtp_host FROM association").fetchone() == ("Les Papillons", "smtp.office365.com")


def test_empty_db_option_is_refused(tmp_path):
    result = tuiapp("--db", "", "init", cwd=tmp_path)
    assert result.returncode == 2 and "--db" in result.stderr and "Traceback" not in result.stderr


def test_locked_database_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_DB_WAIT", "1")  # the wait for another's write, in seconds (60 by default)
    path = tmp_path / "demo.db"
    assert tuiapp("init", "--db", str(path)).returncode == 0
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # another process writing for a long time
    try:
        result = tuiapp("init-demo", "--db", str(path))  # waits, then gives up
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 2
    assert "occupée" in result.stderr and "Traceback" not in result.stderr


def test_usage_error_exit_code():
    result = tuiapp("frobnicate")
    assert result.returncode == 2
    assert "erreur" in result.stderr
