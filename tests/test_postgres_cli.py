"""The commands, the screens and the configuration on a PostgreSQL base (issue 15): named by
``--db``, ``$TUIAPP_DB`` or the server's configuration, as a file is."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tests.cli_runner import run_cli as tuiapp
from tests.smtp_server import PASSWORD, USERNAME
from tests.test_hostile_data import screen_text
from tests.test_screens import SIZE, press

SEPTEMBER = ("--period", "2024-09")


def delivered(server) -> collections.Counter:
    return collections.Counter(
        next(r.message.iter_attachments()).get_filename().split("_")[1] for r in server.received)


@pytest.fixture
def demo_on_postgres(pg_url, pg_database, pg_cluster, server):
    """The demo on a PostgreSQL base, set up for the test server; September's invoices of FH all
    mailed already but three. Returns the ``--db`` arguments."""
    db = ["--db", pg_url]
    result = tuiapp("init-demo", *db)
    assert result.returncode == 0, result.stderr
    result = tuiapp("smtp", "set", *db, "--host", "127.0.0.1", "--port", str(server.port), "--security",
                    "starttls", "--username", USERNAME, "--ca-file", str(server.ca_file), "--rate", "0")
    assert result.returncode == 0, result.stderr
    assert tuiapp("smtp", "password", *db, stdin=PASSWORD + "\n").returncode == 0
    pg_cluster.psql("UPDATE invoice SET last_mailed_at = '2024-10-03T09:30:00+00:00' WHERE period_month = 9 "
                    "AND number NOT IN ('FH-202409-001', 'FH-202409-002', 'FH-202409-011')", dbname=pg_database.name)
    return db


def test_send_from_a_postgresql_base_delivers_each_invoice_once(demo_on_postgres, server, pg_cluster, pg_database):
    dry = tuiapp("send", *demo_on_postgres, *SEPTEMBER, "--structure", "FH", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "3 factures seraient envoyées" in dry.stdout
    sent = tuiapp("send", *demo_on_postgres, *SEPTEMBER, "--structure", "FH", "--yes")
    assert sent.returncode == 0, sent.stderr
    assert delivered(server) == {"FH-202409-001": 1, "FH-202409-002": 1, "FH-202409-011": 1}
    again = tuiapp("send", *demo_on_postgres, *SEPTEMBER, "--structure", "FH", "--yes")
    assert again.returncode == 0, again.stderr
    assert sum(delivered(server).values()) == 3  # nothing twice
    rows = pg_cluster.psql("SELECT i.number, s.status FROM send_record s JOIN invoice i ON i.id = s.invoice_id "
                           "WHERE i.number LIKE 'FH-202409-%%' ORDER BY i.number", dbname=pg_database.name)
    assert rows == [("FH-202409-001", "sent"), ("FH-202409-002", "sent"), ("FH-202409-011", "sent")]
    history = tuiapp("history", *demo_on_postgres, "--format", "csv")
    assert history.returncode == 0 and history.stdout.count("FH-202409-0") == 3, history.stdout


def test_the_base_is_named_by_tuiapp_db_and_said_by_where(pg_url):
    assert tuiapp("init", env={"TUIAPP_DB": pg_url}).returncode == 0
    where = tuiapp("where", env={"TUIAPP_DB": pg_url})
    assert where.returncode == 0, where.stderr
    assert pg_url.split("?")[0] in where.stdout and "$TUIAPP_DB" in where.stdout


def test_a_password_in_the_url_is_refused_and_never_printed(pg_database):
    url = pg_database.url.replace("@", f":{pg_database.password}@", 1)
    for args, env in ((["history", "--db", url], None), (["history"], {"TUIAPP_DB": url})):
        result = tuiapp(*args, env=env)
        assert result.returncode != 0
        assert "contient un mot de passe" in result.stderr and "~/.pgpass" in result.stderr
        assert pg_database.password not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_a_server_that_does_not_answer_is_said_in_french(pg_database):
    result = tuiapp("history", "--db", pg_database.url.replace(f":{pg_database.port}/", ":1/"))
    assert result.returncode != 0
    assert "Serveur PostgreSQL injoignable" in result.stderr and "Traceback" not in result.stderr


def test_the_servers_configuration_may_name_a_postgresql_base(tmp_path, pg_url, monkeypatch):
    from tuiapp.system_config import ConfigError, load

    config = tmp_path / "tuiapp.toml"
    monkeypatch.setenv("TUIAPP_CONFIG", str(config))
    config.write_text(f'database = "{pg_url}"\n')
    with pytest.raises(ConfigError, match="secret_dir.*obligatoire avec une base PostgreSQL"):
        load()
    config.write_text(f'database = "{pg_url}"\nsecret_dir = "{tmp_path / "secret"}"\n')
    assert str(load().database) == pg_url
    config.write_text('database = "postgresql://compta:x@db.asso.fr/tuiapp"\nsecret_dir = "/srv/s"\n')
    with pytest.raises(ConfigError, match="clé « database ».*contient un mot de passe"):
        load()
    config.write_text(f'database = "{pg_url}"\nsecret_dir = "{tmp_path / "secret"}"\n')
    where = tuiapp("where")
    assert where.returncode == 0 and pg_url in where.stdout, where.stderr


async def test_the_screens_work_on_a_postgresql_base(demo_on_postgres, pg_url):
    from tuiapp.app import create_app
    from tuiapp.db.database import release
    from tuiapp.domain.db_target import parse_target

    app = create_app(parse_target(pg_url))
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert app.sub_title == parse_target(pg_url).name
            await press(pilot, "c")
            assert type(app.screen).__name__ == "ContributionsScreen"
            await press(pilot, "e")
            text = screen_text(app)
            assert "ANDRÉ Éric" in text and "EHPAD-2024" in text, text  # the last period's invoices
            await press(pilot, "escape", "escape", "r")
            assert type(app.screen).__name__ == "ResidentsScreen"
    finally:
        release()


def test_the_send_journal_of_a_postgresql_base_is_in_the_data_directory(pg_url):
    from tuiapp.domain.db_target import parse_target
    from tuiapp.locations import data_dir, journal_dir

    folder = journal_dir(parse_target(pg_url))
    assert folder.parent == data_dir() / "send-journal" and "/" not in folder.name
    assert journal_dir(Path("/srv/tuiapp/tuiapp.db")) == Path("/srv/tuiapp/tuiapp.db.send-journal")


def test_residents_and_invoices_are_imported_into_a_postgresql_base(pg_url, pg_cluster, pg_database, tmp_path):
    from tests.import_samples import RESIDENT_HEADERS, resident_rows, write_csv

    db = ["--db", pg_url]
    assert tuiapp("init-demo", *db).returncode == 0
    residents = write_csv(tmp_path / "residents.csv", RESIDENT_HEADERS, resident_rows(30))
    first = tuiapp("import", "residents", residents, *db)
    assert first.returncode == 0, first.stderr
    rows = write_csv(tmp_path / "residents2.csv", RESIDENT_HEADERS,
                     [[*row[:4], f"nouvelle{index}@example.org", ""] for index, row in enumerate(resident_rows(30))])
    again = tuiapp("import", "residents", rows, *db)  # the same residents, their addresses changed
    assert again.returncode == 0, again.stderr
    invoices = tmp_path / "factures.csv"
    invoices.write_text("N° facture;N° résident;Période;Date facture;Montant HT\n"
                        "IMP-2024-001;R0001;novembre 2024;30/11/2024;1 234,56\n"
                        "IMP-2024-002;R0002;novembre 2024;30/11/2024;99,00\n", encoding="utf-8")
    imported = tuiapp("import", "invoices", invoices, *db)
    assert imported.returncode == 0, imported.stderr
    assert pg_cluster.psql("SELECT count(*), min(email) FROM resident WHERE external_id LIKE 'R00%%'",
                           dbname=pg_database.name) == [(30, "nouvelle0@example.org")]
    assert pg_cluster.psql("SELECT number, amount_ht, issue_date::text FROM invoice WHERE number LIKE 'IMP-%%' "
                           "ORDER BY number", dbname=pg_database.name) == [
        ("IMP-2024-001", 123456, "2024-11-30"), ("IMP-2024-002", 9900, "2024-11-30")]


@pytest.mark.parametrize("down", [0.5, 3.0], ids=["back-within-the-wait", "down-longer-than-the-wait"])
async def test_the_sending_tab_goes_through_a_database_server_restart(demo_on_postgres, pg_url, pg_cluster,
                                                                      pg_database, server, monkeypatch, down):
    """Local mode on PostgreSQL: the server crashes while the mail server holds a message. Back
    within the writes' wait, the batch goes on; down longer, it stops and says so in French (the
    reply kept in the journal, written at the next start); never an "unexpected error", never
    a message twice."""
    import asyncio

    from tests.test_contributions import open_september_sending_tab, panel, wait_for_batch
    from tests.test_postgres_service import crash_before_reply
    from tuiapp.app import create_app
    from tuiapp.db.database import open_database, release
    from tuiapp.domain.db_target import parse_target
    from tuiapp.sending import recovery

    within = down < 1
    monkeypatch.setenv("TUIAPP_DB_WAIT", "15" if within else "1")
    crashed = crash_before_reply(server, pg_cluster, message=2, back_after=down if within else None)
    app = create_app(parse_target(pg_url))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_september_sending_tab(pilot)
            sending = panel(app)
            await pilot.press("e")  # the three invoices to mail, ticked
            await pilot.pause()
            await pilot.press("o")
            assert await asyncio.to_thread(crashed.wait, 30)
            if not within:  # down for longer than the writes wait
                await asyncio.sleep(down)
                await asyncio.to_thread(pg_cluster.start)
            await wait_for_batch(pilot)
            log = "\n".join(sending.log_texts)
            assert "Erreur inattendue" not in log and "Traceback" not in log, log
            if within:
                assert "Envoi terminé : 3 envoyées." in log, log
            else:
                assert "Envoi arrêté." in log and "ne sera pas renvoyée" in log, log
        release()
        open_database(parse_target(pg_url))  # the next start: what the journal kept is written
        recovery.recover_interrupted()
    finally:
        release()
    statuses = sorted(status for (status,) in pg_cluster.psql(
        "SELECT status FROM send_record WHERE invoice_id IN (SELECT id FROM invoice WHERE period_year = 2024 "
        "AND period_month = 9)", dbname=pg_database.name))
    assert all(count == 1 for count in delivered(server).values())  # none twice
    if within:
        assert statuses == ["sent"] * 3 and len(delivered(server)) == 3
    else:  # the one in hand written from the journal; the last one waits in the queue
        assert statuses == ["queued", "sent", "sent"] and len(delivered(server)) == 2
