"""The database on a real PostgreSQL server (issue 15): naming it, opening it, its schema, the
same data and the same French order as on SQLite. The server is ``tests/pg_cluster.py``'s."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from peewee import DatabaseError as PeeweeDatabaseError
from peewee import IntegrityError

from tests.raw import raw
from tuiapp.db.database import DatabaseOpenError, db, is_postgres, open_database, release, write_transaction
from tuiapp.db.migrations import SCHEMA_VERSION
from tuiapp.domain.db_target import PostgresTarget, TargetError, parse_target
from tuiapp.domain.periods import Period

# -- naming the database (no server needed) ------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("postgresql://compta@127.0.0.1:5433/tuiapp", ("compta", "127.0.0.1", 5433, "tuiapp", "prefer")),
    ("postgres://compta@localhost/tuiapp", ("compta", "localhost", 5432, "tuiapp", "prefer")),
    ("postgresql://compta@db.asso.fr/tuiapp", ("compta", "db.asso.fr", 5432, "tuiapp", "verify-full")),
    ("postgresql://compta@db.asso.fr/tuiapp?sslmode=verify-ca&sslrootcert=/etc/ca.pem",
     ("compta", "db.asso.fr", 5432, "tuiapp", "verify-ca")),
    ("postgresql://compta@/tuiapp?host=/var/run/postgresql", ("compta", "/var/run/postgresql", 5432, "tuiapp", "prefer")),
    ("postgresql://compta@[::1]:5432/tuiapp?sslmode=disable", ("compta", "::1", 5432, "tuiapp", "disable")),
    ("postgresql://compta%40asso@127.0.0.1/base%20fr", ("compta@asso", "127.0.0.1", 5432, "base fr", "prefer")),
])
def test_a_postgresql_url_names_the_server_the_user_and_the_base(text, expected):
    target = parse_target(text)
    assert isinstance(target, PostgresTarget)
    assert (target.user, target.host, target.port, target.name, target.sslmode) == expected
    assert "@" in str(target) and ":" not in str(target).split("@")[0].removeprefix("postgresql://")


def test_anything_else_is_a_file_name():
    assert parse_target("~/compta/tuiapp.db") == Path("~/compta/tuiapp.db").expanduser()
    assert parse_target("base:2024.db") == Path("base:2024.db")


@pytest.mark.parametrize("text, said", [
    ("postgresql://compta:secret@127.0.0.1/tuiapp", "contient un mot de passe"),
    ("postgresql://compta:@127.0.0.1/tuiapp", "contient un mot de passe"),
    ("postgresql://compta@127.0.0.1/tuiapp?password=secret", "Option « password » inconnue"),
    ("mysql://compta@127.0.0.1/tuiapp", "fichier SQLite ou PostgreSQL"),
    ("postgresql://127.0.0.1/tuiapp", "indiquez l'utilisateur"),
    ("postgresql://compta@127.0.0.1", "indiquez le nom de la base"),
    ("postgresql://compta@127.0.0.1:99999/tuiapp", "nombre de 1 à 65535"),
    ("postgresql://compta@127.0.0.1:0/tuiapp", "nombre de 1 à 65535"),
    ("postgresql://compta:secret@127.0.0.1:99999/tuiapp", "contient un mot de passe"),
    ("postgresql://compta:secret@127.0.0.1:abc/tuiapp", "contient un mot de passe"),
    ("postgresql://compta:secret@[::1/tuiapp", "illisible"),
    ("postgresql://compta@localhost/tuiapp?host=db.example.org&sslmode=disable", "deux serveurs"),
    ("postgresql://compta@/tuiapp?host=/tmp,db.example.org&sslmode=disable", "un seul serveur"),
    ("postgresql://compta@a.example.org,b.example.org/tuiapp", "un seul serveur"),
    ("postgresql://compta@db.asso.fr/tuiapp?sslmode=require", "ne serait pas vérifié"),
    ("postgresql://compta@db.asso.fr/tuiapp?sslmode=disable", "ne serait pas vérifié"),
    ("postgresql://compta@127.0.0.1/tuiapp?sslmode=maybe", "les valeurs possibles"),
    ("postgresql://compta@127.0.0.1/tuiapp?sslmode=disable&sslmode=prefer", "deux fois"),
    ("postgresql://compta@127.0.0.1/tuiapp?connect_timeout=soon", "nombre de secondes"),
    ("postgresql://compta@127.0.0.1/tu%1b[2Jiapp", "caractère de contrôle"),
    ("   ", "indiquez un nom de fichier"),
])
def test_a_bad_url_is_refused_in_french_and_never_echoes_a_password(text, said):
    with pytest.raises(TargetError) as refused:
        parse_target(text)
    assert said in str(refused.value)
    assert "secret" not in str(refused.value) and "\x1b" not in str(refused.value)


# -- the database on the server -------------------------------------------------------------------


@pytest.fixture
def pg(pg_url):
    """The fresh PostgreSQL database opened as tuiapp opens it; SQLite again afterwards."""
    target = parse_target(pg_url)
    open_database(target)
    assert is_postgres()
    yield target
    release()


def test_a_new_database_gets_the_schema_and_keeps_what_is_written(pg):
    from tuiapp.db.models import Association, Invoice, InvoiceLine, Resident, SendRecord, Structure

    association = Association.get_solo()
    association.name = "Les Amis du Foyer"
    association.save()
    structure = Structure.create(code="FH", name="Foyer Les Tilleuls", sender_email="fh@example.org")
    resident = Resident.create(structure=structure, last_name="MAILLY", first_name="Josiane", email="j@example.org")
    invoice = Invoice.create(resident=resident, structure=structure, period_year=2024, period_month=9,
                             number="FH-2024-09-001", issue_date=date(2024, 9, 28), amount_ht=Decimal("1234.56"))
    InvoiceLine.create(invoice=invoice, label="Hébergement", quantity=Decimal("30"), unit_price=Decimal("41.15"),
                       amount=Decimal("1234.50"))
    record = SendRecord.create(invoice=invoice, recipients="j@example.org")
    release()  # read back through a new connection
    open_database(pg)
    again = Invoice.get_by_id(invoice.id)
    assert (again.amount_ht, again.issue_date, again.resident.last_name, again.structure.code) == (
        Decimal("1234.56"), date(2024, 9, 28), "MAILLY", "FH")
    assert [(line.quantity, line.unit_price) for line in again.lines] == [(Decimal("30.00"), Decimal("41.15"))]
    assert SendRecord.get_by_id(record.id).status == "queued"
    assert Association.get_solo().name == "Les Amis du Foyer"
    with pytest.raises(IntegrityError):  # one queued record per invoice, as on SQLite
        with db.atomic():
            SendRecord.create(invoice=invoice, recipients="j@example.org")


def test_the_demo_gives_the_same_lists_as_on_sqlite(pg, tmp_path):
    from tuiapp.db import queries
    from tuiapp.demo.data import build_demo

    def lists():
        period = queries.last_period_with_invoices()
        return (period, [(row.number, row.resident.last_name, row.amount_ht) for row in queries.invoices_to_mail(period)],
                [(r.last_name, r.first_name) for r in queries.residents(search="e")])

    build_demo()
    on_postgres = lists()
    open_database(tmp_path / "demo.db")
    build_demo()
    on_sqlite = lists()
    assert on_postgres == on_sqlite
    assert isinstance(on_postgres[0], Period) and len(on_postgres[1]) > 10


NAMES = ["Œuvray", "OEHLER", "oeil", "d'Arc", "D’ARTAGNAN", "Dupont-Aignan", "Du Pont", "DUPONT", "Dupont",
         "Éluard", "ELUARD", "Élie", "Ébène", "ebene", "Zoé", "zola", "Çava", "cabane", "Ångström", "ANGERS",
         "Lætitia", "Laeti", "Ødegaard", "ode", "Łukasz", "lucas", "Émile Zola", "Emile-Zola", "Strauß", "STRAUSS",
         "Groẞ", "N\u0303ando"]


def test_names_are_in_the_same_french_order_and_found_alike_on_both_engines(pg, tmp_path):
    """Œ, hyphens, spaces, apostrophes and accents: one order (``fold``, then the name) and one
    search on SQLite (Python's ``fold``) and on PostgreSQL (the schema's SQL ``fold``)."""
    from tuiapp.db import queries
    from tuiapp.db.database import fold
    from tuiapp.db.models import Resident, Structure

    def seen():
        structure = Structure.create(code="FH", name="Foyer")
        for name in NAMES:
            Resident.create(structure=structure, last_name=name)
        order = [r.last_name for r in queries.residents()]
        found = {word: sorted(r.last_name for r in queries.residents(search=word))
                 for word in ("oe", "œ", "dupont", "ELU", "zo", "ange", "lae", "ø", "ł", "’", "strauss", "ß")}
        folded = [row[0] for row in db.execute_sql("SELECT fold(last_name) FROM resident ORDER BY id")]
        return order, found, folded

    on_postgres = seen()
    open_database(tmp_path / "names.db")
    on_sqlite = seen()
    assert on_postgres == on_sqlite
    assert on_sqlite[0] == sorted(NAMES, key=lambda name: (fold(name), name))
    assert on_sqlite[2] == [fold(name) for name in NAMES]
    assert on_sqlite[1]["ELU"] == ["ELUARD", "Éluard"]


def test_a_base_written_by_a_newer_tuiapp_or_by_another_program_is_refused(pg_cluster, make_pg_database):
    newer, foreign = make_pg_database(), make_pg_database()
    open_database(parse_target(newer.url))
    db.execute_sql("UPDATE schema_version SET version = 99")
    release()
    with pytest.raises(DatabaseOpenError, match="version plus récente de tuiapp"):
        open_database(parse_target(newer.url))
    pg_cluster.psql("CREATE TABLE clients (id int)", dbname=foreign.name)
    pg_cluster.psql(f"ALTER TABLE clients OWNER TO {foreign.role}", dbname=foreign.name)
    with pytest.raises(DatabaseOpenError, match="un autre logiciel"):
        open_database(parse_target(foreign.url))
    count = pg_cluster.psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                            dbname=foreign.name)
    assert "1" in str(count)  # nothing was created beside it


def test_two_processes_opening_a_new_base_at_once_create_it_once(pg_url):
    target = parse_target(pg_url)
    errors = []

    def open_it():
        from tuiapp.db.postgres import open_postgres

        try:
            database = open_postgres(target)
            database.close_all()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    open_database(target)
    assert db.execute_sql("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    release()


def test_a_wrong_password_or_no_server_is_said_in_french_without_the_password(pg_database, monkeypatch, tmp_path):
    pgpass = tmp_path / "wrong-pgpass"
    pgpass.write_text(f"*:*:*:{pg_database.role}:not-the-password\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with pytest.raises(DatabaseOpenError) as refused:
        open_database(parse_target(pg_database.url))
    assert "utilisateur ou mot de passe" in str(refused.value) and "~/.pgpass" in str(refused.value)
    assert "not-the-password" not in str(refused.value)
    nobody_listens = pg_database.url.replace(f":{pg_database.port}/", ":1/")
    with pytest.raises(DatabaseOpenError, match="Serveur PostgreSQL injoignable"):
        open_database(parse_target(nobody_listens))


def test_one_writer_at_a_time_on_postgresql(pg):
    """``write_transaction`` is SQLite's BEGIN IMMEDIATE: a second writer waits for the first."""
    from tuiapp.db.models import Metadata

    order = []
    inside = threading.Event()
    go_on = threading.Event()

    def first():
        with write_transaction():
            Metadata.create(key="first", value="1")
            inside.set()
            go_on.wait(5)
            order.append("first done")
        db.close()

    def second():
        inside.wait(5)
        with write_transaction():
            order.append("second in")
            Metadata.create(key="second", value="2")
        db.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    inside.wait(5)
    threading.Event().wait(0.3)
    assert order == []  # the second waits
    go_on.set()
    for thread in threads:
        thread.join()
    assert order == ["first done", "second in"]


def test_threads_that_ended_without_closing_give_their_connection_back(pg):
    """A screen's thread workers never close their connection: more of them than the pool holds,
    one after the other, all get one."""
    from tuiapp.db.models import Structure
    from tuiapp.db.postgres import MAX_CONNECTIONS

    seen, errors = [], []

    def read():
        try:
            seen.append(Structure.select().count())
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    for _ in range(MAX_CONNECTIONS * 3):
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    assert errors == [] and seen == [0] * (MAX_CONNECTIONS * 3)


def test_a_connection_the_server_dropped_is_replaced(pg, pg_cluster, pg_database):
    """The server restarted, or its administrator ended the connection: the next statement
    outside a transaction connects again, rather than every statement failing from then on."""
    from tuiapp.db.models import Structure

    assert Structure.select().count() == 0
    pg_cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (pg_database.name,))
    with pytest.raises(PeeweeDatabaseError):  # the statement under way when it was dropped fails
        Structure.select().count()
    Structure.create(code="FH", name="Foyer")
    assert Structure.select().count() == 1


def test_a_writer_waits_for_another_past_the_lock_timeout_as_on_sqlite(pg_url, monkeypatch):
    """PostgreSQL's lock_timeout (one attempt) is retried like SQLite's busy base, until the
    database wait (TUIAPP_DB_WAIT) runs out; the busy base is said as such."""
    from tuiapp.db import heartbeat
    from tuiapp.db.postgres import explain_postgres_error

    monkeypatch.setenv("TUIAPP_DB_WAIT", "0.3")  # each attempt: lock_timeout 300 ms
    target = parse_target(pg_url)
    open_database(target)
    monkeypatch.setenv("TUIAPP_DB_WAIT", "4")  # the whole wait of a write
    holding = threading.Event()

    def hold():
        with write_transaction():
            holding.set()
            threading.Event().wait(1.2)
        db.close()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    heartbeat.beat("test", "running")  # waits past 4 lock timeouts, then writes
    holder.join()
    assert heartbeat.last().state == "running"

    holding.clear()
    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    with pytest.raises(PeeweeDatabaseError) as busy:  # one attempt, no retry: its lock_timeout runs out
        with write_transaction():
            pass
    holder.join()
    assert "occupée par un autre programme" in explain_postgres_error(target, busy.value)
    release()


def test_a_base_that_is_not_utf8_is_refused_in_french(pg_cluster, pg_database, tmp_path, monkeypatch):
    name = f"{pg_database.name}_ascii"
    pg_cluster.psql(f'CREATE DATABASE "{name}" ENCODING \'SQL_ASCII\' LC_COLLATE \'C\' LC_CTYPE \'C\' '
                    f'TEMPLATE template0 OWNER "{pg_database.role}"')
    try:
        pgpass = tmp_path / "pgpass-any"
        pgpass.write_text(f"*:*:*:{pg_database.role}:{pg_database.password}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        with pytest.raises(DatabaseOpenError, match="pas en UTF-8.*ENCODING 'UTF8'"):
            open_database(parse_target(pg_database.url.rsplit("/", 1)[0] + f"/{name}"))
    finally:
        pg_cluster.psql(f'DROP DATABASE "{name}" WITH (FORCE)')


def _psycopg_error(text: str, sqlstate: str | None = None) -> Exception:
    """A psycopg error as the driver raises it (``sqlstate`` picks its class), wrapped by Peewee."""
    import peewee
    import psycopg

    cause = psycopg.errors.lookup(sqlstate)(text) if sqlstate else psycopg.OperationalError(text)
    try:
        try:
            raise cause
        except psycopg.Error:
            raise peewee.OperationalError(text)  # noqa: B904  (Peewee's wrapper keeps the context so)
    except peewee.OperationalError as wrapped:
        return wrapped


@pytest.mark.parametrize(("text", "sqlstate", "lost"), [
    ("consuming input failed: SSL error: unexpected eof while reading", None, True),  # TLS: the usual case
    ("consuming input failed: server closed the connection unexpectedly", None, True),
    ("the connection is closed", None, True),
    ("terminating connection due to administrator command", "57P01", True),
    ("connection failed: connection to server at \"127.0.0.1\", port 1 failed: Connection refused", None, True),
    ("the database system is starting up", "57P03", True),
    ('connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is '
     "starting up", None, True),  # as libpq says it at connect: no code
    ("connection failed: FATAL:  the database system is not yet accepting connections", None, True),
    ("connection failed: FATAL:  password authentication failed for user \"compta\"", None, False),
    ("database \"x\" does not exist", "3D000", False),
    ("bind message supplies 1 parameters, but prepared statement requires 2", "08P01", False),
    ("canceling statement due to lock timeout", "55P03", False),  # busy: the other wait
])
def test_a_lost_connection_is_told_from_a_refusal_and_from_a_fault(text, sqlstate, lost):
    import sqlite3

    from tuiapp.db.waiting import is_connection_lost

    assert is_connection_lost(_psycopg_error(text, sqlstate)) is lost
    assert not is_connection_lost(sqlite3.OperationalError("disk I/O error"))  # SQLite has no server


def test_a_write_is_done_again_after_a_lost_connection_only_when_it_says_it_may(database, monkeypatch):
    """Its first run may have been done with its answer lost: only a write whose second run
    changes nothing is tried again; another one says so at once."""
    from tuiapp.db.waiting import DatabaseUnreachable, wait_for_writes

    monkeypatch.setenv("TUIAPP_DB_WAIT", "2")
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _psycopg_error("consuming input failed: SSL error: unexpected eof while reading")
        return "done"

    assert wait_for_writes(again_when_lost=True)(flaky)() == "done" and len(calls) == 3
    calls.clear()
    with pytest.raises(DatabaseUnreachable, match="Base inaccessible : la connexion à son serveur a été coupée"):
        wait_for_writes(flaky)()
    assert len(calls) == 1
    calls.clear()

    def not_connected_yet():  # the connection was never made: nothing was sent, any write may go again
        calls.append(1)
        if len(calls) < 2:
            raise _psycopg_error('connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                                 "Connection refused")
        return "done"

    assert wait_for_writes(not_connected_yet)() == "done" and len(calls) == 2


def test_a_vanished_client_or_server_is_noticed_within_minutes(pg):
    """TCP keepalives and a bound on unacknowledged data on our side; on the server's, a session
    idle inside a transaction (its client gone, the writers' lock held) ends after 5 minutes."""
    assert db.execute_sql("SHOW idle_in_transaction_session_timeout").fetchone()[0] == "5min"
    assert db.connection().prepare_threshold is None  # nothing prepared on the server (imports: see postgres.py)
    parameters = db.connection().info.get_parameters()
    assert (parameters["keepalives_idle"], parameters["tcp_user_timeout"]) == ("30", "60000")


def test_a_read_the_database_server_cannot_answer_stops_the_batch_in_french(demo_db, monkeypatch):
    """The batch's first read meets a server gone (a restart): the batch stops, said in French,
    the invoices left queued; never an unexpected error."""
    from tuiapp.db import queries
    from tuiapp.db.waiting import DatabaseUnreachable
    from tuiapp.mail.smtp_client import SmtpSettings
    from tuiapp.sending import outbox
    from tuiapp.sending.engine import SendEngine

    queued = outbox.queue_invoices([row.invoice_id for row in queries.send_rows(Period(2024, 9))[:2]],
                                   operator="marie")

    def gone(*args, **kwargs):
        raise _psycopg_error("consuming input failed: server closed the connection unexpectedly")

    monkeypatch.setattr(queries, "invoices_with_people", gone)
    summary = SendEngine(SmtpSettings(host="127.0.0.1"), authenticator=None, operator="marie").run(queued.record_ids)
    assert isinstance(summary.stopped, DatabaseUnreachable) and summary.remaining == 2
    assert str(summary.stopped).startswith("Base inaccessible : la connexion à son serveur a été coupée")


@pytest.mark.parametrize("said", ['connection failed: FATAL:  unrecognized configuration parameter '
                                  '"idle_in_transaction_session_timeout"',
                                  "connection failed: ERROR:  unsupported startup parameter: options"])
def test_a_server_that_refuses_the_sessions_settings_is_said_in_french(said):
    """An old server, or PgBouncer in between: said as such, not as a server down."""
    import psycopg

    from tuiapp.db.postgres import explain_postgres_error

    text = explain_postgres_error(parse_target("postgresql://compta@127.0.0.1/tuiapp"), psycopg.OperationalError(said))
    assert "PostgreSQL 10 ou plus récent" in text and "PgBouncer" in text and "injoignable" not in text


def test_an_up_to_date_base_opens_while_a_writer_holds_the_lock(pg_url, monkeypatch, tmp_path):
    """Opening a base already at the current schema waits for no writer (an import holds the
    writers' lock for seconds), as opening a SQLite file does not; the text of a URL opens the
    server, never a file named after it."""
    from tuiapp.db.postgres_schema import WRITER_LOCK
    from tuiapp.db.queries import periods_with_invoices

    open_database(parse_target(pg_url))  # the schema is made
    release()
    monkeypatch.setenv("TUIAPP_DB_WAIT", "0.3")
    monkeypatch.chdir(tmp_path)
    with raw(parse_target(pg_url)) as writer:
        writer.execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK,))
        open_database(pg_url)  # within the lock's 0.3 s it would raise "occupée"
        assert is_postgres() and periods_with_invoices() == []
        release()
    assert [path.name for path in tmp_path.iterdir()] == ["pgpass"]  # no file named after the URL


def test_a_read_only_server_is_said_in_french(pg_url):
    """A standby server, or a base its administrator made read-only: said as such, nothing written."""
    from tuiapp.db.models import Structure
    from tuiapp.db.postgres import explain_postgres_error

    target = parse_target(pg_url)
    open_database(target)
    with raw(target) as owner:
        owner.execute(f'ALTER DATABASE "{target.name}" SET default_transaction_read_only = on')
    release()
    open_database(target)
    with pytest.raises(PeeweeDatabaseError) as refused:
        Structure.create(code="X", name="X")
    assert "ne la donne qu'en lecture" in explain_postgres_error(target, refused.value)
    release()
    with raw(target) as reader:
        assert reader.execute("SELECT count(*) FROM structure").fetchone() == (0,)
