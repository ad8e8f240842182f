"""The start-up path imports only what the home screen needs (issue 14: start-up within 1.2x,
memory within 1.3x of a minimal Textual app; ``benchmarks/startup_bench.py`` measures both).

The app is started for real in a fresh process, headless at 80x24, on the demo base, and quits
once the home screen has been drawn; what it imported is then read from ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Heavy, or needed only by a screen or a command the operator has not opened yet.
NOT_AT_START = (
    "msal", "pymupdf", "fitz", "markdown_pdf", "openpyxl", "email_validator", "aiosmtpd", "tomlkit",
    "keyring", "charset_normalizer", "smtplib", "requests", "cryptography", "tomllib",
    "tuiapp.pdf", "tuiapp.mail", "tuiapp.services", "tuiapp.sender", "tuiapp.sending.engine",
    "tuiapp.sending.workflow", "tuiapp.demo", "tuiapp.cli",
    "tuiapp.screens.contributions", "tuiapp.screens.sending", "tuiapp.screens.structures",
    "tuiapp.screens.residents", "tuiapp.screens.smtp", "tuiapp.screens.imports",
)

START = """
import json, sys
from tuiapp.app import create_app
from tuiapp.screens.home import HomeScreen

shown = HomeScreen.on_screen_resume

def on_screen_resume(self):
    shown(self)
    self.call_after_refresh(self.app.exit)

HomeScreen.on_screen_resume = on_screen_resume
app = create_app(sys.argv[1], create=False)
app.run(headless=True, size=(80, 24))
print(json.dumps(sorted(sys.modules)))
"""


def test_the_home_screen_starts_without_the_heavy_modules(demo_db_file, tmp_path):
    done = subprocess.run([sys.executable, "-c", START, str(demo_db_file)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "tuiapp.screens.home" in loaded and "textual" in loaded  # it did start
    found = sorted(name for name in loaded if any(name == heavy or name.startswith(heavy + ".") for heavy in NOT_AT_START))
    assert found == []
