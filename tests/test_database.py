import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.raw import raw
from tuiapp.db import migrations
from tuiapp.db.database import DatabaseOpenError, db, is_postgres, open_database, release
from tuiapp.db.models import Association, Resident
from tuiapp.db.sending_models import ALL_MODELS, SendSlot, SmtpConnectionRow


def test_fresh_file_is_in_wal_mode_with_pragmas(db_path, monkeypatch):
    monkeypatch.delenv("TUIAPP_DB_WAIT")  # the default wait, not the tests' short one (conftest)
    open_database(db_path)
    try:
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000
    finally:
        db.close()
    # journal_mode=wal is stored in the file: another connection sees it.
    with sqlite3.connect(db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION


def test_migrated_schema_matches_the_models(database):
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {column.name for column in database.get_columns(table)}
        assert columns == set(model._meta.columns), table
        indexes = {index.name for index in database.get_indexes(table)}
        for index in model._schema._create_indexes(safe=False):
            name = database.get_sql_context().sql(index).query()[0].split('"')[1]
            assert name in indexes, (table, name)


def test_reopening_keeps_data(db_path):
    open_database(db_path)
    Association.get_solo().save()
    association = Association.get_solo()
    association.name = "Les Papillons"
    association.save()
    db.close()
    open_database(db_path)
    try:
        assert Association.get_solo().name == "Les Papillons"
    finally:
        db.close()


def test_version_1_database_opens_with_its_data(tmp_path):
    """The upgrade path: a file written by schema version 1 opens without loss.

    tests/data/v1.db was written by tests/data/build_v1_db.py and is committed.
    """
    path = tmp_path / "v1.db"
    shutil.copyfile(Path(__file__).parent / "data" / "v1.db", path)
    open_database(path)
    try:
        resident = Resident.get(Resident.last_name == "MAILLY")
        assert resident.recipients == ["josiane.mailly@example.org", "udaf@example.org"]
        invoice = resident.invoices.get()
        assert str(invoice.amount_ht) == "1234.56"
        assert invoice.last_mailed_at.tzinfo is not None
        assert migrations.schema_version(db) == migrations.SCHEMA_VERSION
        # Columns added since version 1 got their defaults.
        assert Association.get_solo().smtp_allow_insecure_auth is False
        assert resident.invoices.get().send_records.get().batch is None
        assert Association.get_solo().smtp_port == 587
        assert SendSlot.select().count() == 0 and SmtpConnectionRow.select().count() == 0  # version 3's tables
    finally:
        db.close()


def _left_at(db_path, version: int) -> None:
    """A file made by the frozen migrations up to ``version``, its association row written then."""
    from peewee import SqliteDatabase

    raw = SqliteDatabase(str(db_path))
    for step in range(1, version + 1):
        migrations.MIGRATIONS[step](raw)
    raw.execute_sql(f"PRAGMA user_version = {version}")
    raw.execute_sql("INSERT INTO association (id, name, address, smtp_host, smtp_port, smtp_security, smtp_username, "
                    "smtp_auth_method, smtp_timeout, smtp_rate_per_minute, smtp_allow_insecure_auth) VALUES "
                    "(1, 'Les Papillons', '', 'smtp.office365.com', 587, 'starttls', 'f@example.org', 'password', "
                    "30, 30, 0)")
    raw.close()


def test_version_2_database_gets_the_tables_of_the_account_limits(db_path):
    """A file left at version 2 (made by the frozen migrations 1 and 2) opens at the current
    version, its data kept, with the send slots and open connections tables."""
    _left_at(db_path, 2)
    open_database(db_path)
    try:
        assert migrations.schema_version(db) == migrations.SCHEMA_VERSION >= 3
        assert Association.get_solo().name == "Les Papillons"
        slot = SendSlot.create(account="smtp.office365.com:587:f@example.org", holder="h:1:2", reserved_at=1.5)
        assert SendSlot.get_by_id(slot.id).reserved_at == 1.5 and SendSlot.get_by_id(slot.id).sent_at is None
        SmtpConnectionRow.create(account=slot.account, holder="h:1:2", opened_at=1.0, refreshed_at=2.0)
        assert SmtpConnectionRow.select().count() == 1
    finally:
        db.close()


def test_a_migration_may_rebuild_a_referenced_table(demo_db_file, monkeypatch):
    """A NOT NULL column with a default rebuilds the table under SQLite; rows that
    point at it (invoice lines, send records) must survive, foreign keys intact.
    (PostgreSQL adds the column in place, by its own list of steps: the rows must survive too.)"""
    from peewee import IntegerField, SqliteDatabase
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator
    from playhouse.migrate import migrate as apply_operations

    from tuiapp.db import postgres_schema

    def to_next(database):
        migrator = SqliteMigrator(database) if isinstance(database, SqliteDatabase) else PostgresqlMigrator(database)
        apply_operations(migrator.add_column("invoice", "copies", IntegerField(default=1)))

    next_version = migrations.SCHEMA_VERSION + 1
    monkeypatch.setitem(migrations.MIGRATIONS, next_version, to_next)
    monkeypatch.setitem(postgres_schema.MIGRATIONS, next_version, to_next)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", next_version)
    counts = ("SELECT (SELECT count(*) FROM invoice), (SELECT count(*) FROM invoice_line), "
              "(SELECT count(*) FROM send_record)")
    with raw(demo_db_file) as connection:
        before = connection.execute(counts).fetchone()
    open_database(demo_db_file)
    try:
        if is_postgres():
            assert db.execute_sql("SELECT version FROM schema_version").fetchall() == [(next_version,)]
        else:
            assert migrations.schema_version(db) == next_version
            assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        release()
    with raw(demo_db_file) as connection:
        after = connection.execute(counts).fetchone()
        assert connection.execute("SELECT count(*) FROM invoice WHERE copies = 1").fetchone()[0] == before[0]
        if not connection.postgres:  # (PostgreSQL checks each reference as it is written)
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    assert after == before


def test_newer_schema_is_refused(db_path):
    with sqlite3.connect(db_path) as raw:
        raw.execute("PRAGMA user_version = 999")
    with pytest.raises(DatabaseOpenError, match="plus récente"):
        open_database(db_path)
    assert db.is_closed()


def test_other_sqlite_database_is_left_untouched(db_path):
    with sqlite3.connect(db_path) as raw:
        raw.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(DatabaseOpenError, match="autre logiciel"):
        open_database(db_path)
    with sqlite3.connect(db_path) as raw:
        tables = [row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["accounts"]


def test_file_that_is_not_a_database(db_path):
    db_path.write_text("Bonjour, je ne suis pas une base.\n" * 100)
    with pytest.raises(DatabaseOpenError, match="n'est pas une base tuiapp"):
        open_database(db_path)


def test_missing_file_is_not_created_when_asked(db_path):
    with pytest.raises(DatabaseOpenError, match="n'existe pas"):
        open_database(db_path, create=False)
    assert not db_path.exists()


def test_two_processes_create_the_same_file_at_once(db_path):
    code = (
        "import sys; from tuiapp.db.database import open_database; from tuiapp.db.models import Association;"
        "open_database(sys.argv[1]); print(Association.get_solo().smtp_port)"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(db_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], results
    assert all(out.strip() == "587" for out, _ in results)
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT count(*) FROM association").fetchone()[0] == 1


def test_version_4_database_takes_the_oauth_methods(db_path):
    """Version 5 widens the authentication check (the association table is rebuilt, its row kept)
    and adds the OAuth settings; a method outside the three is still refused by SQLite itself."""
    import sqlite3

    _left_at(db_path, 4)
    open_database(db_path)
    try:
        association = Association.get_solo()
        assert (association.name, association.smtp_username, association.smtp_auth_method) == (
            "Les Papillons", "f@example.org", "password")
        assert (association.smtp_oauth_tenant, association.smtp_oauth_client_id, association.smtp_oauth_certificate,
                association.smtp_oauth_authority) == ("", "", None, "")
        for method in ("oauth2-app", "oauth2-device", "password"):
            Association.update(smtp_auth_method=method).execute()
            assert Association.get_solo().smtp_auth_method == method
    finally:
        db.close()
    with sqlite3.connect(db_path) as other, pytest.raises(sqlite3.IntegrityError):
        other.execute("UPDATE association SET smtp_auth_method = 'oauth2'")
