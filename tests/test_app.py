"""The Textual app, driven at 80x24 as an operator would."""

import os
import pty
import select
import subprocess
import sys
import time

import pytest
from textual.widgets import Static

from tests.test_screens import home_read
from tuiapp.app import create_app
from tuiapp.db.database import db
from tuiapp.db.models import Association


async def test_home_screen_shows_the_association_and_the_months(demo_db_file):
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await home_read(pilot)
            assert app.title == "Association Les Papillons Blancs de Flandre (démo)"
            assert app.sub_title == demo_db_file.name
            assert str(demo_db_file) in str(app.screen.query_one("#counts", Static).render())
            screen = app.screen
            association = str(screen.query_one("#association", Static).render())
            assert "Papillons Blancs" in association
            periods = str(screen.query_one("#periods", Static).render())
            assert "octobre 2024" in periods and "septembre 2024" in periods
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code == 0
    finally:
        db.close()


@pytest.mark.sqlite_only  # the title bar and the home screen show the base's name (a PostgreSQL copy's differs each run)
def test_home_screen_snapshot(snap_compare, demo_db_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stable title bar: the path as typed
    try:
        async def footer_whole(pilot):  # what the picture shows of the footer, said in words
            from tests.test_hostile_data import screen_text

            await pilot.pause()
            footer = screen_text(pilot.app).split("\n")[-1]
            assert footer.startswith("c Contributions s Structures r Résidents i Import m SMTP F1 Aide"), footer
            assert footer.rstrip().endswith("^p palette"), footer

        assert snap_compare(create_app(demo_db_file.relative_to(tmp_path)), terminal_size=(80, 24),
                            run_before=footer_whole)
    finally:
        db.close()


def test_the_command_opens_the_app_in_a_terminal(demo_db_file):
    """``tuiapp --db demo.db`` in a real pseudo-terminal: the screen appears, ctrl+q quits."""
    master, slave = pty.openpty()
    env = os.environ.copy() | {"TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tuiapp", "--db", str(demo_db_file)],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"Papillons" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"Papillons" in seen, seen[-2000:]
        os.write(master, b"\x11")  # ctrl+q
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


async def test_names_are_shown_as_typed_not_as_markup(database, db_target):
    association = Association.get_solo()
    association.name = "APF [red]Nord[/b] & [Flandre"
    association.address = "[link=x]rue[/link]"
    association.save()
    app = create_app(db_target)
    async with app.run_test(size=(80, 24)) as pilot:
        await home_read(pilot)
        text = str(app.screen.query_one("#association", Static).render())
        assert "APF [red]Nord[/b] & [Flandre" in text and "[link=x]rue[/link]" in text
