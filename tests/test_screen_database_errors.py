"""A database that refuses a write, or a damaged page: every screen says so in French, nothing crashes.

The real app at 80x24 on a real base, with the refusal made for real:

- *locked*: another connection holds ``BEGIN IMMEDIATE`` (another workstation's
  long write); the app's busy timeout, a setting, is cut to 0.2 s
  so that the test is quick (``$TUIAPP_DB_WAIT``). On PostgreSQL, that other
  connection holds the writers' lock and the tables (``LOCK TABLE ... IN EXCLUSIVE
  MODE``: read, never written), and the wait is the app's ``lock_timeout``;
- *read-only*: the tests run as root, whom ``chmod`` does not stop, and no
  read-only mount is available here; so the app's connections are opened with
  SQLite's ``PRAGMA query_only``, which refuses every write with the very error
  a read-only file gives (SQLITE_READONLY, "attempt to write a readonly database").
  On PostgreSQL, the base is made read-only as a standby server or its administrator
  makes it (``default_transaction_read_only``: SQLSTATE 25006);
- *damaged* (SQLite only): garbage written over the ``resident`` table's root page,
  so that the file opens (no full integrity check at start-up) but reading it fails.
"""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import Input, Select

from tests.raw import RawConnection, raw
from tests.test_screens import SIZE, fill, press, settle, text_of, type_text
from tuiapp.app import create_app
from tuiapp.db import database
from tuiapp.db.database import db, is_postgres, release
from tuiapp.domain.db_target import PostgresTarget
from tuiapp.mail import secrets

TABLES = ("association", "structure", "resident", "invoice", "send_record")
TYPED_PASSWORD = "Never-Written-Anywhere-42"


def snapshot(target) -> dict[str, list]:
    """Every row of the tables a form writes, read by a connection of the test's own."""
    with raw(target) as connection:
        return {table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}


def make_read_only(target: PostgresTarget) -> None:
    """The PostgreSQL base read-only from the next session on: every transaction refuses to write."""
    with raw(target) as connection:  # (its owner may)
        connection.execute(f'ALTER DATABASE "{target.name}" SET default_transaction_read_only = on')


def hold_the_writers(target) -> RawConnection:
    """Another workstation's long write: an open transaction that holds the base's write lock
    (on PostgreSQL, the tables too: a form's save takes no advisory lock there); its connection
    (closing it lets go)."""
    holder = RawConnection(target)
    try:
        holder.hold_writers()
        if holder.postgres:
            holder.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
    except BaseException:
        holder.close()
        raise
    return holder


@pytest.fixture
def refused(request, demo_db_file, monkeypatch):
    """The demo base, refusing writes the way ``request.param`` says; yields the French reason expected."""
    monkeypatch.setenv("TUIAPP_DB_WAIT", "0.2")  # the busy timeout follows it (core/timing.py)
    holder = None
    if request.param == "locked":
        holder = hold_the_writers(demo_db_file)
        reason = "est occupée par un autre programme"
    else:
        if isinstance(demo_db_file, PostgresTarget):
            make_read_only(demo_db_file)
        else:
            monkeypatch.setitem(database.PRAGMAS, "query_only", 1)
        reason = "en écriture"
    yield reason
    if holder is not None:
        holder.close()  # (rolled back)


async def save_is_refused(pilot, reason: str, screen: str, kept: dict[str, str]) -> None:
    await press(pilot, "ctrl+s")
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)
    app = pilot.app
    assert app.screen.__class__.__name__ == screen  # the form is still open...
    errors = text_of(app, "#errors")
    assert "Rien n'a été enregistré" in errors and reason in errors, errors
    for selector, value in kept.items():  # ...with what was typed
        assert app.screen.query_one(selector, Input).value == value, selector
    assert any(reason in notice.message for notice in app._notifications)


async def abandon(pilot) -> None:
    await press(pilot, "escape")
    assert pilot.app.screen.__class__.__name__ == "ConfirmScreen"
    await press(pilot, "o")


@pytest.mark.long
@pytest.mark.parametrize("refused", ["locked", "read-only"], indirect=True)
async def test_every_form_keeps_what_was_typed_when_the_database_refuses(refused, demo_db_file):
    reason = refused
    before = snapshot(demo_db_file)
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            # A structure, edited (its Mail tab) then created.
            await press(pilot, "s", "enter")
            await fill(pilot, "#sender_name", "Nouveau nom")
            await save_is_refused(pilot, reason, "StructureFormScreen", {"#sender_name": "Nouveau nom"})
            await abandon(pilot)
            await press(pilot, "n")
            await type_text(pilot, "NEW")
            await press(pilot, "tab")
            await type_text(pilot, "Foyer neuf")
            await save_is_refused(pilot, reason, "StructureFormScreen", {"#code": "NEW", "#name": "Foyer neuf"})
            await abandon(pilot)
            await press(pilot, "escape")
            # A resident, created then edited.
            await press(pilot, "r", "n")
            await type_text(pilot, "Nouvelle")
            await save_is_refused(pilot, reason, "ResidentFormScreen", {"#last_name": "Nouvelle"})
            await abandon(pilot)
            await press(pilot, "enter")
            await fill(pilot, "#email", "autre@example.org")
            await save_is_refused(pilot, reason, "ResidentFormScreen", {"#email": "autre@example.org"})
            await abandon(pilot)
            await press(pilot, "escape")
            # The SMTP window: the settings are refused, so the keyring is not touched.
            await press(pilot, "m")
            await fill(pilot, "#smtp_port", "2525")
            pilot.app.screen.query_one("#smtp_security", Select).value = "starttls"  # an identifiant: encrypted
            await fill(pilot, "#smtp_username", "compta")
            await fill(pilot, "#password", TYPED_PASSWORD)
            await save_is_refused(pilot, reason, "SmtpScreen",
                                  {"#smtp_port": "2525", "#smtp_username": "compta", "#password": TYPED_PASSWORD})
            assert app._exception is None
    finally:
        release()
    assert snapshot(demo_db_file) == before  # nothing half-written
    assert secrets.get_password("127.0.0.1", "compta") is None


async def test_the_password_is_not_kept_when_the_keyring_refuses_it(demo_db_file):
    """The settings are saved first; the keyring then fails: they are put back, the window stays open."""
    import keyring
    from keyring.backends import fail

    before = snapshot(demo_db_file)
    keyring.set_keyring(fail.Keyring())
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await press(pilot, "m")
            await fill(pilot, "#smtp_port", "2525")
            pilot.app.screen.query_one("#smtp_security", Select).value = "starttls"  # an identifiant: encrypted
            await fill(pilot, "#smtp_username", "compta")
            await fill(pilot, "#password", TYPED_PASSWORD)
            await press(pilot, "ctrl+s")
            await app.workers.wait_for_complete()
            await settle(pilot)
            assert app.screen.__class__.__name__ == "SmtpScreen"
            errors = text_of(app, "#errors")
            assert "trousseau" in errors and "Les réglages n'ont pas été modifiés." in errors, errors
            assert app.screen.query_one("#smtp_port", Input).value == "2525"
            assert app.screen.query_one("#password", Input).value == TYPED_PASSWORD
    finally:
        release()
    assert snapshot(demo_db_file) == before


def damage_table(path, table: str) -> None:
    """Write garbage over ``table``'s root b-tree page, found in the schema, in the file itself."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    finally:
        connection.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5" * page_size)


@pytest.mark.sqlite_only  # garbage over a page of the file: SQLite's own storage
async def test_a_damaged_page_is_explained_and_every_screen_stays_usable(demo_db_file):
    damage_table(demo_db_file, "resident")
    app = create_app(demo_db_file)  # opens: no full integrity check at start-up
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for keys, screen in ((("s",), "StructuresScreen"), (("escape", "r"), "ResidentsScreen"),
                                 (("escape", "c"), "ContributionsScreen"), (("e",), "ContributionsScreen")):
                await press(pilot, *keys)
                assert app.screen.__class__.__name__ == screen, keys
            await press(pilot, "escape", "escape")
            assert app.screen.__class__.__name__ == "HomeScreen"
            assert app._exception is None
            notices = [notice.message for notice in app._notifications]
            assert notices and all("est endommagée" in notice for notice in notices), notices
            assert str(demo_db_file) in notices[0]
            assert "Papillons" in text_of(app, "#association")  # what could be read is shown
    finally:
        release()


@pytest.mark.sqlite_only  # garbage over a page of the file: SQLite's own storage
def test_a_damaged_page_makes_no_traceback_in_a_real_process(demo_db_file):
    """``tuiapp history`` on the same damaged file: the CLI's French message, exit 2."""
    import subprocess
    import sys

    damage_table(demo_db_file, "resident")
    result = subprocess.run([sys.executable, "-m", "tuiapp", "history", "--db", str(demo_db_file)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "est endommagée" in result.stderr


@pytest.mark.long
async def test_printing_and_deciding_on_a_read_only_base_say_why(demo_db_file):
    """The printing stamps and the decision on an "unknown" send are writes too."""
    from datetime import UTC, datetime

    from textual.widgets import DataTable

    from tuiapp.db import queries
    from tuiapp.db.models import SendRecord
    from tuiapp.domain.periods import Period
    from tuiapp.sending import outbox, recovery

    app = create_app(demo_db_file)
    row = queries.send_rows(Period(2024, 9))[0]  # a send interrupted on another workstation: "unknown"
    record_id = outbox.queue_invoices([row.invoice_id], operator="marie").record_ids[0]
    outbox.claim(record_id, operator="marie", message_id="<1@example.org>")
    SendRecord.update(claimed_by="elsewhere:1:1", started_at=datetime(2024, 1, 1, tzinfo=UTC)).where(
        SendRecord.id == record_id).execute()
    recovery.recover_interrupted()
    if is_postgres():
        make_read_only(demo_db_file)
        release()  # the connections open now were writable: those made from now on are not
    else:
        db.pragma("query_only", 1, permanent=True)  # this connection and the workers' from now on
    before = snapshot(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await press(pilot, "c", "minus")  # septembre 2024
            await press(pilot, "p")
            await app.workers.wait_for_complete()
            await settle(pilot)
            notices = [notice.message for notice in app._notifications]
            assert any(n.startswith("Impression impossible.") and "en écriture" in n for n in notices), notices
            await press(pilot, "e")
            sending = app.screen.query_one("SendingPanel")
            table = sending.query_one(DataTable)
            table.move_cursor(row=table.get_row_index(str(row.invoice_id)))
            await press(pilot, "k")
            assert app.screen.__class__.__name__ == "ChoiceScreen"
            await press(pilot, "d")  # "it did leave": refused by the base
            assert app.screen.__class__.__name__ == "ContributionsScreen" and app._exception is None
            notices = [notice.message for notice in app._notifications]
            assert any(n.startswith("Rien n'a été décidé.") and "en écriture" in n for n in notices), notices
            assert sending.states[row.invoice_id] == "unknown"
    finally:
        release()
    assert snapshot(demo_db_file) == before
