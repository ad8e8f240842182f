"""``tuiapp db copy --from FILE.db --to postgresql://...`` (issue 15, point 6): the whole base, send
history included, in one transaction; a target that holds anything is refused; exit 0, 1, 2."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from tests.cli_runner import run_cli as tuiapp

SEPTEMBER = ("--period", "2024-09")


@pytest.fixture
def demo_file(tmp_path, _demo_template):
    """A fresh copy of the SQLite demo file: what is copied from is always a file (``demo_db_file``
    is a PostgreSQL base in the PostgreSQL pass). These tests reach the tests' PostgreSQL server
    through ``pg_url`` in the SQLite pass."""
    path = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, path)
    return path


def _after_a_batch(path) -> None:
    """Send records as a batch leaves them: sent, partial, failed and unknown (one each, on
    September's invoices), beside the demo's own history."""
    with sqlite3.connect(path) as raw:
        ids = [row[0] for row in raw.execute(
            "SELECT id FROM invoice WHERE period_year = 2024 AND period_month = 9 ORDER BY number LIMIT 4")]
        for invoice_id, status in zip(ids, ("sent", "partial", "failed", "unknown"), strict=True):
            raw.execute(
                "INSERT INTO send_record (invoice_id, recipients, status, attempts, operator, created_at, started_at, "
                "finished_at, last_reply, refused_recipients, error, message_id, batch, claimed_by) VALUES "
                "(?, 'a@example.org, b@example.org', ?, 1, 'marie', '2024-10-03T09:30:00+00:00', "
                "'2024-10-03T09:30:01+00:00', ?, '250 2.0.0 OK', ?, ?, '<m@example.org>', 'b1', 'h:1:1')",
                (invoice_id, status, None if status == "unknown" else "2024-10-03T09:30:02+00:00",
                 '{"b@example.org": "550 5.1.1 inconnu"}' if status == "partial" else None,
                 "refusé" if status == "failed" else None))


def test_the_copy_gives_the_same_history_and_send_list_on_postgresql(demo_file, pg_url, pg_cluster, pg_database):
    _after_a_batch(demo_file)
    sqlite_db, pg_db = ["--db", str(demo_file)], ["--db", pg_url]
    history_before = tuiapp("history", *sqlite_db, "--format", "csv")
    send_list_before = tuiapp("send", *sqlite_db, *SEPTEMBER, "--dry-run")
    assert history_before.returncode == 0 and send_list_before.returncode == 0
    states = [line.split(";")[5] for line in history_before.stdout.splitlines()[1:]]
    assert {"envoi partiel", "échec", "état inconnu", "envoyée"} <= set(states), states

    copied = tuiapp("db", "copy", "--from", demo_file, "--to", pg_url)
    assert copied.returncode == 0, copied.stderr
    assert "Copie faite" in copied.stdout and " envois," in copied.stdout

    assert tuiapp("history", *pg_db, "--format", "csv").stdout == history_before.stdout
    assert tuiapp("send", *pg_db, *SEPTEMBER, "--dry-run").stdout == send_list_before.stdout
    # The ids go on after the copied ones: a new row does not collide.
    (largest,), = pg_cluster.psql("SELECT max(id) FROM structure", dbname=pg_database.name)
    assert tuiapp("smtp", "show", *pg_db).returncode == 0
    (next_id,), = pg_cluster.psql("SELECT nextval(pg_get_serial_sequence('structure', 'id'))", dbname=pg_database.name)
    assert next_id == largest + 1


def test_a_target_that_holds_anything_is_refused_and_left_as_it_was(demo_file, pg_url, pg_cluster, pg_database):
    assert tuiapp("db", "copy", "--from", demo_file, "--to", pg_url).returncode == 0
    count = pg_cluster.psql("SELECT count(*) FROM send_record", dbname=pg_database.name)
    again = tuiapp("db", "copy", "--from", demo_file, "--to", pg_url)
    assert again.returncode == 1
    assert "n'est pas vide" in again.stderr and "Rien n'a été écrit" in again.stderr
    assert pg_cluster.psql("SELECT count(*) FROM send_record", dbname=pg_database.name) == count


def test_a_copy_that_fails_half_way_writes_nothing(demo_file, pg_url, pg_cluster, pg_database):
    with sqlite3.connect(demo_file) as raw:  # a value PostgreSQL refuses (NUL), in the last table copied
        raw.execute("INSERT INTO test_message (structure_id, recipient, requested_by, status, created_at) "
                    "VALUES (1, CAST(X'6E756C00' AS TEXT), 'marie', 'waiting', '2024-10-03T09:30:00+00:00')")
    failed = tuiapp("db", "copy", "--from", demo_file, "--to", pg_url)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "La table test_message contient une valeur que PostgreSQL refuse" in failed.stderr, failed.stderr
    assert "Rien n'a été écrit" in failed.stderr
    assert pg_cluster.psql("SELECT count(*) FROM invoice", dbname=pg_database.name) == [(0,)]


def test_bad_commands_exit_2_and_refusals_1(tmp_path, demo_file, pg_url):
    for args in (("db", "copy", "--from", demo_file),  # no --to
                 ("db", "copy", "--from", demo_file, "--to", str(tmp_path / "other.db")),
                 ("db", "copy", "--from", demo_file, "--to", pg_url.replace("@", ":secret@", 1)),
                 ("db",)):
        result = tuiapp(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "secret" not in result.stderr and "Traceback" not in result.stderr
    missing = tuiapp("db", "copy", "--from", tmp_path / "absent.db", "--to", pg_url)
    assert missing.returncode == 1 and "n'est pas un fichier de base tuiapp" in missing.stderr
    with sqlite3.connect(tmp_path / "old.db") as raw:
        raw.execute("PRAGMA user_version = 5")
        raw.execute("CREATE TABLE x (y)")
    old = tuiapp("db", "copy", "--from", tmp_path / "old.db", "--to", pg_url)
    assert old.returncode == 1 and "tuiapp init --db" in old.stderr


def test_text_the_sqlite_file_cannot_read_is_a_refusal_naming_the_table(demo_file, pg_url, pg_cluster, pg_database):
    with sqlite3.connect(demo_file) as raw:  # not UTF-8: SQLite hands it back as an error
        raw.execute("UPDATE resident SET guardian_name = CAST(X'41FF42' AS TEXT) WHERE id = 3")
    refused = tuiapp("db", "copy", "--from", demo_file, "--to", pg_url)
    assert refused.returncode == 1, refused.stderr
    assert "La table resident de" in refused.stderr and "ne se lit pas" in refused.stderr
    assert pg_cluster.psql("SELECT count(*) FROM structure", dbname=pg_database.name) == [(0,)]
