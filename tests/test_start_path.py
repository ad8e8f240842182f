"""The start-up path imports only what the home screen needs (issue 14: start-up within 1.2x,
memory within 1.3x of a minimal Textual app; ``benchmarks/startup_bench.py`` measures both).

The app is started for real in a fresh process, headless at 80x24, on the demo base: what it had
imported when the home screen was first drawn, and once it had read its figures, is read from
``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Heavy, or needed only by a screen or a command the operator has not opened yet.
NOT_AT_START = (
    "msal", "pymupdf", "fitz", "markdown_pdf", "openpyxl", "email_validator", "aiosmtpd", "tomlkit",
    "keyring", "charset_normalizer", "smtplib", "requests", "cryptography", "tomllib", "playhouse.migrate",
    "tuiapp.pdf", "tuiapp.mail", "tuiapp.services", "tuiapp.sender", "tuiapp.sending.engine",
    "tuiapp.sending.workflow", "tuiapp.demo", "tuiapp.cli",
    "tuiapp.screens.contributions", "tuiapp.screens.sending", "tuiapp.screens.structures",
    "tuiapp.screens.residents", "tuiapp.screens.smtp", "tuiapp.screens.imports",
)
#: Needed by the home screen's figures, read just after its first frame: not before it.
NOT_BEFORE_THE_FIRST_FRAME = ("babel", "tuiapp.db.queries")

#: What ``tuiapp`` (no command) needs beyond that: its options, and where the base is (``site``).
#: Not the commands' modules and parsers, the send path, the mail modules, the import mapping.
NOT_FOR_THE_COMMAND = tuple(name for name in NOT_AT_START if name not in ("tuiapp.cli", "tuiapp.services")) + (
    "tuiapp.sending.events", "tuiapp.services.import_mapping", "tuiapp.cli.send", "tuiapp.cli.smtp",
    "tuiapp.cli.imports", "tuiapp.cli.server", "tuiapp.cli.history", "tuiapp.cli.db_copy",
)

START = """
import json, sys
from tuiapp.app import TuiApp, create_app
from tuiapp.screens.home import HomeScreen

resume, read = HomeScreen.on_screen_resume, HomeScreen.refresh_overview
seen = {}

def on_screen_resume(self):
    self.call_after_refresh(lambda: seen.setdefault("drawn", sorted(sys.modules)))  # before the reads
    resume(self)

def refresh_overview(self):
    read(self)
    seen["read"] = sorted(sys.modules)
    self.call_after_refresh(self.app.exit)

HomeScreen.on_screen_resume, HomeScreen.refresh_overview = on_screen_resume, refresh_overview
if sys.argv[2] == "create_app":
    create_app(sys.argv[1], create=False).run(headless=True, size=(80, 24))
else:  # as an operator types tuiapp
    run = TuiApp.run
    TuiApp.run = lambda self: run(self, headless=True, size=(80, 24))
    from tuiapp.cli import main
    assert main(["--db", sys.argv[1]]) == 0
print(json.dumps(seen))
"""


def among(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(name for name in loaded if any(name == heavy or name.startswith(heavy + ".") for heavy in names))


def started(base, how: str) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", START, str(base), how], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_home_screen_starts_without_the_heavy_modules(demo_db_file, tmp_path):
    seen = started(demo_db_file, "create_app")
    drawn, read = set(seen["drawn"]), set(seen["read"])
    assert "tuiapp.screens.home" in drawn and "textual" in drawn  # it did start
    assert among(drawn, NOT_BEFORE_THE_FIRST_FRAME) == [], sorted(drawn)
    assert "babel.dates" in read  # the figures' French month names, once read
    assert among(read, NOT_AT_START) == []


@pytest.mark.sqlite_only  # (the PostgreSQL pass starts the app through create_app, above)
def test_the_tuiapp_command_starts_without_the_send_path_nor_the_import_mapping(demo_db_file):
    seen = started(demo_db_file, "command")
    drawn, read = set(seen["drawn"]), set(seen["read"])
    assert "tuiapp.cli" in drawn and "tuiapp.services.site" in drawn
    assert among(drawn, NOT_BEFORE_THE_FIRST_FRAME) == []
    assert among(read, NOT_FOR_THE_COMMAND) == []


APP_ONLY = ([], ["--db", "x"], ["--db=x"], ["--d", "x"], ["--db", "x", "--db", "y"])
FULL_PARSER = (["--db"], ["-h"], ["--version"], ["demo"], ["--db", "x", "init"], ["--", "x"], ["x"], ["--dbx"],
               ["--db", "--version"])


@pytest.mark.parametrize("argv", [*APP_ONLY, *FULL_PARSER])
def test_tuiapp_without_a_command_is_read_as_the_full_parser_reads_it(argv):
    """``tuiapp`` and its ``--db`` are read without the commands' parsers; a command, the help, a
    mistake go to the full parser, which says what it says."""
    from tuiapp.cli import app_only, build_parser

    quick = app_only(argv)
    assert (quick is not None) == (argv in APP_ONLY)
    if quick is not None:
        assert vars(quick) == vars(build_parser().parse_args(argv))
