"""The core never imports Textual: the CLI and other processes stay light.

The layers themselves are import-linter's contracts (``[tool.importlinter]`` in
pyproject.toml, run by ``lint-imports``), which read every import statement.
This test checks what they let through on purpose: the CLI imports the TUI
inside the command that starts it, so loading any module outside the UI must
still leave Textual unloaded.
"""

import pkgutil
import subprocess
import sys

import tuiapp


def test_core_db_and_cli_do_not_import_textual():
    modules = [
        info.name
        for info in pkgutil.walk_packages(tuiapp.__path__, "tuiapp.")
        if not info.name.startswith(("tuiapp.screens", "tuiapp.widgets")) and info.name not in ("tuiapp.app", "tuiapp.__main__")
    ]
    assert "tuiapp.db.models" in modules and "tuiapp.domain.templates" in modules and "tuiapp.sending.engine" in modules and "tuiapp.cli" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(loaded)\n"
        "raise SystemExit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_app_does_import_textual():
    # The check above would pass vacuously if nothing could import textual.
    code = "import sys, tuiapp.app; raise SystemExit(0 if 'textual' in sys.modules else 1)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
