"""Shared fixtures: a real SQLite file per test, and small factories."""

from __future__ import annotations

import fcntl
import gc
import itertools
import shutil
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tuiapp.db.database import SQLITE, db, open_database, release
from tuiapp.db.models import Invoice, Resident, Structure
from tuiapp.domain.periods import Period

# A test builds an app and drops it: with Python's default thresholds, test_screens and test_contributions
# ran 39 full collections, each over the whole heap, 9 s of their 49 s of CPU (2026-12-03). Collected
# less often, and with what the imports made set aside (``gc.freeze``), the same run spends 2.5 s on it
# (the heap then peaks near 1.2 M objects, about 300 MB).
gc.set_threshold(20_000, 10, 10)


def pytest_collection_finish(session):
    gc.collect()
    gc.freeze()


def pytest_configure(config):
    # At its end, a worker's pytest collects the whole heap five times over to find a late exception
    # in a finaliser: 1.2 to 2 s of CPU per worker, with all four ending together (2026-12-03).
    # Once finds what is left (each test's own garbage is collected during the run).
    from _pytest.unraisableexception import gc_collect_iterations_key

    config.stash[gc_collect_iterations_key] = 1


def pytest_addoption(parser):
    parser.addoption(
        "--engine", choices=("sqlite", "postgresql"), default="sqlite",
        help="the engine of the base the ``database``, ``demo_db`` and ``demo_db_file`` fixtures give. With "
             "postgresql, only the tests that use one of them run (those marked sqlite_only are left out), each on a fresh "
             "PostgreSQL database of the tests' own server (tests/pg_cluster.py)")


def postgresql_pass(config) -> bool:
    return config.getoption("engine") == "postgresql"


def pytest_collection_modifyitems(config, items):
    """The tests marked ``long`` first: with two workers, a long test started last would run
    alone at the end (pyproject's ``--maxschedchunk 1`` hands out the tests one at a time).
    In the PostgreSQL pass, only those that reach the base through ``database``, ``demo_db`` or
    ``demo_db_file`` (the CLI's and the screens' tests too), but for the ``sqlite_only`` and
    ``engine_neutral`` ones."""
    if postgresql_pass(config):
        engine_bound = {"database", "demo_db", "demo_db_file"}
        kept = [item for item in items if engine_bound & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("sqlite_only") is None and item.get_closest_marker("engine_neutral") is None]
        left = [item for item in items if item not in kept]
        if left:
            config.hook.pytest_deselected(items=left)
        items[:] = kept
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test away from the real user's data directory and $TUIAPP_DB."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("TUIAPP_DB", raising=False)
    monkeypatch.delenv("TUIAPP_PRINTER", raising=False)  # never the machine's printer (tests/test_printer.py)
    # No association-server configuration unless a test writes one (the machine's /etc/tuiapp is not read).
    monkeypatch.setenv("TUIAPP_CONFIG", str(home / "no-system-config.toml"))
    # Every wait is a setting, 2 s or less in the tests (a test may set a shorter one); the
    # processes a test starts inherit it.
    monkeypatch.setenv("TUIAPP_DB_WAIT", "2")
    # A keyring that works without a desktop and never prompts, in the test's home.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()  # its file is under $XDG_DATA_HOME, as for a subprocess
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _unbound_database():
    """Each test opens its own base: the one a previous test left bound is let go after it, so a
    test that forgot to open one fails rather than read or write another test's file."""
    yield
    release()
    db.initialize(SQLITE)
    SQLITE.init(None)


@pytest.fixture(autouse=True)
def _no_animations(monkeypatch):
    """Apps made in the test process draw each change at once: a Pilot key waits for every
    animation to end (0.3 s for a tab's underline), and what a test checks is the end state.
    (Read by ``App.__init__``; the apps the tests run in a terminal keep their animations.)"""
    import textual.constants

    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")
    # (Drawing 15 frames a second rather than 60 saved 16 % of the screen tests' CPU, but a test then
    # read a frame 67 ms old more often: test_import_screen once saw a body not yet laid out.)


@pytest.fixture
def server(tmp_path):
    """A real SMTP server on loopback: STARTTLS on a certificate made here, AUTH, faults to inject."""
    from tests.smtp_server import SmtpTestServer

    server = SmtpTestServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def idp(tmp_path):
    """A fake Microsoft identity platform (tests/fake_idp.py) on loopback HTTPS: register apps,
    approve device codes, revoke; access tokens live 2 s."""
    from tests.fake_idp import FakeIdentityProvider

    with FakeIdentityProvider(tmp_path, token_lifetime=2.0) as provider:
        yield provider
    assert provider.internal_errors == []


@pytest.fixture
def oauth_server(tmp_path, idp):
    """The SMTP test server as Office 365 without basic authentication: AUTH XOAUTH2 with ``idp``'s tokens."""
    from tests.smtp_server import SmtpTestServer

    server = SmtpTestServer(tmp_path, oauth=idp).start()
    yield server
    server.stop()


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "tuiapp.db"


@pytest.fixture
def database(request, db_path):
    """The base of the test, open: a SQLite file at ``db_path``; in the PostgreSQL pass
    (``--engine postgresql``), a fresh database of the tests' PostgreSQL server instead."""
    if postgresql_pass(request.config):
        open_database(request.getfixturevalue("_pg_base"))
        yield db
        release()
        return
    open_database(db_path)
    yield db
    db.close()


@pytest.fixture
def db_arg(request, database, db_path) -> str:
    """What ``--db`` takes for the test's base (``database``): its file, or its PostgreSQL URL."""
    return str(request.getfixturevalue("_pg_base")) if postgresql_pass(request.config) else str(db_path)


@pytest.fixture
def db_target(db_arg):
    """The test's base as the app takes it (``create_app``): a path, or a PostgreSQL target."""
    from tuiapp.domain.db_target import parse_target

    return parse_target(db_arg)


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory, worker_id) -> Path:
    """The demo database, built once per test run: by the first worker that needs it, under a lock,
    in the folder the workers share (building it costs 2.6 s of CPU)."""
    from tuiapp.demo.data import build_demo

    base = tmp_path_factory.getbasetemp()
    folder = base if worker_id == "master" else base.parent  # (without xdist, the parent outlives the run)
    path = folder / "demo-template.db"
    with open(folder / "demo-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            building = folder / f"demo-template-{worker_id}.db"
            open_database(building)
            build_demo()
            db.close()
            db.init(None)  # unbound: a test that opens no base of its own fails, rather than use this one
            building.rename(path)
    return path


@pytest.fixture
def demo_db_file(request, tmp_path, _demo_template) -> Path:
    """A fresh copy of the demo database, not opened. In the PostgreSQL pass, a fresh copy of
    the demo on the tests' PostgreSQL server instead: its target, which ``open_database`` and
    ``create_app`` take, and whose ``str()`` is the URL that ``--db`` takes."""
    if postgresql_pass(request.config):
        return request.getfixturevalue("_pg_demo")
    path = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, path)
    return path


def _pg_template(pg_cluster, folder: Path, fill: Callable[[object], None]):
    """A database of the tests' server, owned by a role of its own, that ``fill(target)`` fills
    (the app's pool released after it): the template of the tests' copies."""
    import os

    from tuiapp.domain.db_target import parse_target

    template = pg_cluster.new_database()
    pgpass = folder / "pgpass"
    os.close(os.open(pgpass, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    pgpass.write_text(template.pgpass_line())
    saved = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(pgpass)
    try:
        fill(parse_target(template.url))
    finally:
        release()
        if saved is None:
            os.environ.pop("PGPASSFILE")
        else:
            os.environ["PGPASSFILE"] = saved
    return template


@pytest.fixture(scope="session")
def _pg_demo_template(pg_cluster, _demo_template, tmp_path_factory):
    """The demo on PostgreSQL, once per test process (``tuiapp db copy`` of the SQLite one)."""
    from tuiapp.services.db_copy import copy_database

    return _pg_template(pg_cluster, tmp_path_factory.mktemp("pg-demo"),
                        lambda target: copy_database(_demo_template, target))


@pytest.fixture(scope="session")
def _pg_empty_template(pg_cluster, tmp_path_factory):
    """An empty base at the current schema, once per test process. A copy of it costs the server
    about 50 ms; a new database given the schema by ``open_database``, 150 to 250 ms (4 Dec, 2 cores)."""
    return _pg_template(pg_cluster, tmp_path_factory.mktemp("pg-empty"), open_database)


def _pg_copy(pg_cluster, template):
    """A fresh copy of ``template`` (CREATE DATABASE ... TEMPLATE copies its files), owned by the
    template's role, whose password joins the test's pgpass file ($PGPASSFILE, made by
    ``make_pg_database``); yields its target, then drops it."""
    import os
    import secrets as tokens

    from psycopg import sql

    from tuiapp.domain.db_target import parse_target

    name = f"copy_{tokens.token_hex(4)}"
    with pg_cluster.connect() as connection:
        connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(template.name), sql.Identifier(template.role)))
        # (a copy does not take its template's rights: only its owner may connect, as to a new one)
        connection.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
    with open(os.environ["PGPASSFILE"], "a") as lines:
        lines.write(f"127.0.0.1:{template.port}:{name}:{template.role}:{template.password}\n")
    yield parse_target(f"postgresql://{template.role}@127.0.0.1:{template.port}/{name}")
    release()
    with pg_cluster.connect() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def _pg_demo(pg_cluster, _pg_demo_template, make_pg_database):
    """A fresh copy of the PostgreSQL demo; its target."""
    yield from _pg_copy(pg_cluster, _pg_demo_template)


@pytest.fixture
def _pg_base(pg_cluster, _pg_empty_template, make_pg_database):
    """A fresh empty base at the current schema (a copy of the template); its target: the
    ``database`` fixture's base in the PostgreSQL pass."""
    yield from _pg_copy(pg_cluster, _pg_empty_template)


@pytest.fixture
def demo_db(demo_db_file):
    """A fresh copy of the demo database, opened (on PostgreSQL in its pass)."""
    open_database(demo_db_file)
    yield demo_db_file
    release()


_numbers = itertools.count(1)


@pytest.fixture
def structure(database) -> Structure:
    return Structure.create(code="FH", name="Foyer Les Tilleuls", sender_email="facturation@example.org")


@pytest.fixture
def make_resident(structure):
    def make(last_name="MAILLY", first_name="Josiane", **fields) -> Resident:
        fields.setdefault("structure", structure)
        return Resident.create(last_name=last_name, first_name=first_name, **fields)

    return make


SEPTEMBER_2024 = Period(2024, 9)


@pytest.fixture
def make_invoice():
    def make(resident: Resident, period: Period = SEPTEMBER_2024, amount="1234.56", **fields) -> Invoice:
        fields.setdefault("number", f"T-{next(_numbers):05d}")
        fields.setdefault("structure", resident.structure)
        fields.setdefault("issue_date", date(period.year, period.month, 28))
        return Invoice.create(
            resident=resident,
            period_year=period.year,
            period_month=period.month,
            amount_ht=Decimal(amount),
            **fields,
        )

    return make


def point_at(server) -> None:
    """The association sends to this test server (STARTTLS, its certificate, AUTH, no pacing);
    its password is in the keyring."""
    from tests.smtp_server import PASSWORD, USERNAME
    from tuiapp.db.models import Association
    from tuiapp.mail import secrets

    association = Association.get_solo()
    association.smtp_host, association.smtp_port, association.smtp_security = "127.0.0.1", server.port, "starttls"
    association.smtp_username, association.smtp_ca_file = USERNAME, str(server.ca_file)
    association.smtp_rate_per_minute = 0
    association.save()
    secrets.set_password("127.0.0.1", USERNAME, PASSWORD)


@pytest.fixture(scope="session")
def office():
    """A group, two of its members and an outsider, real Unix accounts that can run tuiapp
    (``tests.unix_accounts``); made once per test process, removed at its end. Needs root."""
    import os

    if os.geteuid() != 0:
        pytest.skip("creating Unix users and running as them needs root")
    from tests.unix_accounts import office_of_three

    with office_of_three() as accounts:
        yield accounts


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory):
    """A real PostgreSQL server for this test process (``tests.pg_cluster``): on 127.0.0.1 only,
    passwords only; ``.admin_url()``, ``.port``, ``.psql(sql)``. Started at the first test that
    asks for it, stopped at the end of the session. Without PostgreSQL the test is skipped, or
    fails when $TUIAPP_REQUIRE_POSTGRESQL=1 (CI)."""
    from tests.pg_cluster import PostgresqlAbsent, absent, start_cluster

    try:
        cluster = start_cluster(tmp_path_factory.mktemp("pg"))
    except PostgresqlAbsent as exc:
        absent(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def make_pg_database(pg_cluster, tmp_path, monkeypatch):
    """Make fresh empty databases, each owned by a role of its own whose password goes into the
    test's pgpass file ($PGPASSFILE; no other $PG* variable is left); all dropped after the test."""
    import os

    for name in [name for name in os.environ if name.startswith("PG")]:
        monkeypatch.delenv(name)
    pgpass = tmp_path / "pgpass"
    os.close(os.open(pgpass, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # libpq ignores a file others may read
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    made = []

    def make():
        database = pg_cluster.new_database()
        made.append(database)
        with pgpass.open("a") as lines:
            lines.write(database.pgpass_line())
        return database

    yield make
    for database in made:
        pg_cluster.drop_database(database)


@pytest.fixture
def pg_database(make_pg_database):
    """A fresh empty PostgreSQL database and its owner (``tests.pg_cluster.PgDatabase``)."""
    return make_pg_database()


@pytest.fixture
def pg_url(pg_database) -> str:
    """``postgresql://ROLE@127.0.0.1:PORT/DBNAME`` of a fresh empty database: no password in it,
    libpq finds it in $PGPASSFILE."""
    return pg_database.url


@pytest.fixture
def snap_app(demo_db_file, tmp_path, monkeypatch):
    """The app on the demo for a snapshot: a stable title bar (the path as typed)."""
    from tuiapp.app import create_app

    monkeypatch.chdir(tmp_path)
    application = create_app(demo_db_file.relative_to(tmp_path))
    yield application
    db.close()
