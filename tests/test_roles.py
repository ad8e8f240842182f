"""Roles in the TUI and the CLI (issue 11): what an operator may not do is dimmed and said,
nothing of it reaches the database; the SMTP settings are the server's in service mode."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from tests.raw import raw
from tests.test_screens import SIZE, press, settle
from tuiapp import system_config
from tuiapp.app import create_app
from tuiapp.db import queries
from tuiapp.db.database import release
from tuiapp.db.models import SendRecord
from tuiapp.domain.periods import Period
from tuiapp.domain.roles import Action, Role, decide_refusal, refusal
from tuiapp.screens.smtp_fields import SET_BY_SERVER
from tuiapp.sending import outbox, recovery

TABLES = ("association", "structure", "resident", "invoice", "send_record")
REFUSED_STRUCTURES = refusal(Role.OPERATOR, Action.EDIT_STRUCTURES)


def write_config(tmp_path: Path, database, **groups: str) -> Path:
    """A service-mode configuration naming ``database`` (a file or a PostgreSQL URL); its secret
    folder is named (beside a file, where it would be by default; a PostgreSQL base needs it named)."""
    config = tmp_path / "tuiapp.toml"
    lines = [f'database = "{database}"', 'mode = "service"', f'secret_dir = "{tmp_path / "secret"}"',
             *(f'{key} = "{value}"' for key, value in groups.items()),
             "", "[smtp]", 'host = "smtp.serveur-asso.example"', "port = 465", 'security = "ssl"',
             'username = "factures@asso.example"', "rate_per_minute = 12"]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def load(config: Path) -> system_config.SystemConfig:
    loaded = system_config.load({"TUIAPP_CONFIG": str(config)})
    assert loaded is not None
    return loaded


def rows(target) -> dict[str, list]:
    with raw(target) as connection:
        return {table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}


def notices(app) -> list[str]:
    return [notice.message for notice in app._notifications]


def make_unknown(invoice_id: int, operator: str) -> int:
    """A send by ``operator`` interrupted elsewhere: "état inconnu"."""
    record_id = outbox.queue_invoices([invoice_id], operator=operator).record_ids[0]
    outbox.claim(record_id, operator=operator, message_id=f"<{record_id}@example.org>")
    SendRecord.update(claimed_by="elsewhere:1:1", started_at=datetime(2024, 1, 1, tzinfo=UTC)).where(
        SendRecord.id == record_id).execute()
    recovery.recover_interrupted()
    assert SendRecord.get_by_id(record_id).status == "unknown"
    return record_id


@pytest.fixture
def operator_app(demo_db_file, tmp_path):
    application = create_app(demo_db_file, role=Role.OPERATOR, service_mode=True,
                             config=load(write_config(tmp_path, demo_db_file)))
    yield application
    release()


def test_the_rule_on_unknown_sends():
    assert decide_refusal(Role.ADMIN, "bob", "alice") is None
    assert decide_refusal(Role.OPERATOR, "alice", "alice") is None
    other = decide_refusal(Role.OPERATOR, "bob", "alice")
    assert other is not None and "bob" in other and refusal(Role.OPERATOR, Action.DECIDE_OTHERS_UNKNOWN) in other
    assert decide_refusal(Role.NONE, "alice", "alice") is not None


async def test_an_operator_sees_the_structure_keys_dimmed_and_is_told_why(operator_app, demo_db_file):
    before = rows(demo_db_file)
    async with operator_app.run_test(size=SIZE) as pilot:
        await press(pilot, "s")
        screen = operator_app.screen
        assert screen.__class__.__name__ == "StructuresScreen"
        keys = screen.active_bindings
        assert keys["n"].enabled is False and keys["enter"].enabled is False  # shown, dimmed
        await press(pilot, "n")
        assert operator_app.screen is screen
        assert REFUSED_STRUCTURES in notices(operator_app)
        operator_app.clear_notifications()
        await press(pilot, "enter")
        assert operator_app.screen is screen
        assert notices(operator_app) == [REFUSED_STRUCTURES]
        screen.action_new()  # reached another way than the key: refused all the same
        await settle(pilot)
        assert operator_app.screen is screen
    assert rows(demo_db_file) == before


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
async def test_the_smtp_window_shows_the_servers_settings_in_service_mode(demo_db_file, tmp_path, role):
    """Whoever you are: root changes them with the CLI; the association's fields are never written."""
    app = create_app(demo_db_file, role=role, service_mode=True, config=load(write_config(tmp_path, demo_db_file)))
    before = rows(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await press(pilot, "m")  # from home
            screen = app.screen
            assert screen.__class__.__name__ == "SmtpScreen"
            assert screen.query_one("#smtp_host", Input).value == "smtp.serveur-asso.example"
            assert screen.query_one("#smtp_port", Input).value == "465"
            assert screen.query_one("#smtp_rate_per_minute", Input).value == "12"
            assert str(screen.query_one("#smtp_security").value) == "ssl"
            assert all(field.disabled for field in screen.query(Input))
            assert SET_BY_SERVER in str(screen.query_one("#read-only").render()).replace("\n", " ")
            assert screen.active_bindings["ctrl+s"].enabled is False
            await press(pilot, "x", "ctrl+s")
            assert app.screen is screen
            assert SET_BY_SERVER in notices(app)
            await press(pilot, "escape")
            assert app.screen.__class__.__name__ == "HomeScreen"
    finally:
        release()
    assert rows(demo_db_file) == before


async def test_an_administrator_in_local_mode_still_edits(demo_db_file):
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await press(pilot, "m")
            assert app.screen.__class__.__name__ == "SmtpScreen"
            assert not app.screen.query_one("#smtp_host", Input).disabled
            assert not app.screen.query("#read-only")
            await press(pilot, "escape", "s")
            assert app.screen.active_bindings["n"].enabled
            await press(pilot, "n")
            assert app.screen.__class__.__name__ == "StructureFormScreen"
    finally:
        release()


async def open_sending_tab(pilot, invoice_id: int):
    await press(pilot, "c", "minus")  # septembre 2024
    await press(pilot, "e")
    sending = pilot.app.screen.query_one("SendingPanel")
    table = sending.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(str(invoice_id)))
    await settle(pilot)
    return sending


async def test_an_operator_decides_on_their_own_unknown_sends_only(operator_app, demo_db_file):
    first, second = queries.send_rows(Period(2024, 9))[:2]
    others = make_unknown(first.invoice_id, "[@click=app.quit]Q[/] \x1b[2Jmarie")  # quoted, never run
    mine = make_unknown(second.invoice_id, outbox.operator_name())
    before = rows(demo_db_file)
    async with operator_app.run_test(size=SIZE) as pilot:
        sending = await open_sending_tab(pilot, first.invoice_id)
        await press(pilot, "k")
        assert operator_app.screen.__class__.__name__ == "ContributionsScreen"
        said = [n for n in notices(operator_app) if refusal(Role.OPERATOR, Action.DECIDE_OTHERS_UNKNOWN) in n]
        assert len(said) == 1 and "[@click=app.quit]Q[/]" in said[0] and "marie" in said[0], notices(operator_app)
        assert "\x1b" not in said[0]
        table = sending.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(second.invoice_id)))
        await press(pilot, "k")
        assert operator_app.screen.__class__.__name__ == "ChoiceScreen"  # their own: asked
        await press(pilot, "escape")
    assert rows(demo_db_file) == before
    assert SendRecord.get_by_id(others).status == SendRecord.get_by_id(mine).status == "unknown"


async def test_an_administrator_decides_on_anyones_unknown_send(demo_db_file, tmp_path):
    app = create_app(demo_db_file, role=Role.ADMIN, service_mode=True,
                     config=load(write_config(tmp_path, demo_db_file)))
    row = queries.send_rows(Period(2024, 9))[0]
    make_unknown(row.invoice_id, "quelquun-dautre")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_sending_tab(pilot, row.invoice_id)
            await press(pilot, "k")
            assert app.screen.__class__.__name__ == "ChoiceScreen"
    finally:
        release()


# -- the CLI, as real accounts -------------------------------------------------------------


@pytest.fixture
def shared(office, demo_db_file, tmp_path_factory):
    """The demo base in a folder of the office's group (in the PostgreSQL pass, the demo's base on
    the server, its password in a pgpass file of each account's own in that folder), a service-mode
    configuration naming it (operators: the office's group; administrators: a group nobody is in);
    alice's and bob's interrupted sends in it. Yields (config, database, alice's record, bob's record)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tuiapp-roles-"))
    try:
        folder.chmod(0o2771)  # others may reach the configuration (0644), not list nor read the base
        os.chown(folder, 0, office.gid)
        database = demo_db_file
        if isinstance(database, Path):
            database = folder / "tuiapp.db"
            shutil.copyfile(demo_db_file, database)
        from tuiapp.db.database import open_database

        open_database(database)
        first, second = queries.send_rows(Period(2024, 9))[:2]
        records = make_unknown(first.invoice_id, office.alice.name), make_unknown(second.invoice_id, office.bob.name)
        release()
        for path in folder.iterdir():
            os.chown(path, 0, office.gid)
            path.chmod(0o660)
        if not isinstance(database, Path):
            for account in (office.alice, office.bob, office.carol):
                pgpass = pgpass_of(folder, account)
                shutil.copyfile(os.environ["PGPASSFILE"], pgpass)
                os.chown(pgpass, account.uid, account.gid)
                pgpass.chmod(0o600)  # libpq ignores a file others may read
        config = write_config(folder, database, operator_group=office.group, admin_group="root")
        config.chmod(0o644)
        yield config, database, *records
    finally:
        release()
        shutil.rmtree(folder, ignore_errors=True)


def status(database, record_id: int) -> str:
    with raw(database) as connection:
        return connection.execute("SELECT status FROM send_record WHERE id = ?", (record_id,)).fetchone()[0]


def pgpass_of(folder: Path, account) -> Path:
    return folder / f"{account.name}.pgpass"


def run_as(office, account, config: Path, *args: str):
    """``tuiapp`` as ``account``, with the configuration (and, a PostgreSQL base, the account's pgpass file)."""
    import subprocess

    env = {**office.env, "TUIAPP_CONFIG": str(config)}
    if pgpass_of(config.parent, account).exists():
        env["PGPASSFILE"] = str(pgpass_of(config.parent, account))
    return subprocess.run([office.python, "-m", "tuiapp", *args], **account.as_me(), cwd="/", text=True,
                          capture_output=True, timeout=60, env=env)


def test_an_operator_resolves_their_own_sends_only(office, shared):
    config, database, alices, bobs = shared
    refused = run_as(office, office.alice, config, "resolve", str(bobs), "--delivered")
    assert refused.returncode == 2, refused.stderr
    assert office.bob.name in refused.stderr and "Rien n'a été décidé." in refused.stderr
    assert "Traceback" not in refused.stderr
    assert status(database, bobs) == "unknown"
    done = run_as(office, office.alice, config, "resolve", str(alices), "--delivered")
    assert done.returncode == 0, done.stderr
    assert status(database, alices) == "sent"


def test_someone_without_a_role_cannot_open_the_app_nor_resolve(office, shared):
    config, database, alices, _ = shared
    before = rows(database)
    for args in ((), ("resolve", str(alices), "--resend")):
        result = run_as(office, office.carol, config, *args)
        assert result.returncode == 2, result.stderr
        assert f"ni dans le groupe {office.group}" in result.stderr or "aucun rôle" in result.stderr
        assert "Traceback" not in result.stderr
    assert rows(database) == before
