"""Start-up time and peak memory of the TUI against a minimal Textual app (run on demand).

    .venv/bin/python benchmarks/startup_bench.py [--runs 7]

Both apps are started the same way, each in a fresh Python process (``-c``, the
interpreter's own start included), headless at 80x24, and quit as soon as their
first screen has been drawn:

- the minimal app: ``Header``, ``Static``, ``Footer``;
- tuiapp: ``create_app`` on the demo base (what ``tuiapp`` does after reading its
  arguments), quit once the home screen is drawn; twice: as installed without
  the ``postgresql`` extra (psycopg made unimportable in the child: Peewee
  imports it at its own import wherever it is installed, about 100 ms and
  8 MiB), and as this environment has it (the PostgreSQL driver present).

The runs alternate (minimal, tuiapp, minimal...), so that the machine's drift
touches both. Prints the median wall time and the median peak resident memory
(``os.wait4``'s rusage of each child) of each, and their ratios (issue 14: start
<= 1.2x, memory <= 1.3x); the processor time of each too, which a loaded machine
disturbs less than the wall time, and the modules tuiapp imported that the minimal app
did not, the heaviest first (``--modules``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
import sys
from textual.app import App
from textual.widgets import Footer, Header, Static

class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("Association")
        yield Footer()

    def on_mount(self):
        self.call_after_refresh(self.exit)

Minimal().run(headless=True, size=(80, 24))
"""

TUIAPP = """
import sys
from tuiapp.app import create_app
from tuiapp.screens.home import HomeScreen

shown = HomeScreen.on_screen_resume

def on_screen_resume(self):
    shown(self)
    self.call_after_refresh(self.app.exit)

HomeScreen.on_screen_resume = on_screen_resume
create_app(sys.argv[1], create=False).run(headless=True, size=(80, 24))
"""

#: An install without the ``postgresql`` extra: ``import psycopg`` fails, as it would there.
WITHOUT_PSYCOPG = "import sys\nsys.modules['psycopg'] = None\n"

MODULES = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=open(sys.argv[-1], 'w'))\n"


def run(code: str, *args: str) -> tuple[float, int, float]:
    """Wall time (s), peak resident memory (KiB) and processor time (s) of one child."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"the child failed ({child.returncode})")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def modules(code: str, folder: Path, *args: str) -> set[str]:
    out = folder / "modules.json"
    run(code + MODULES, *args, str(out))
    return set(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--modules", action="store_true", help="list the modules only tuiapp imports")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tuiapp.db.database import db, open_database
    from tuiapp.demo.data import build_demo

    folder = Path(tempfile.mkdtemp())
    os.environ["HOME"] = str(folder)  # no user settings, no real base
    os.environ["XDG_DATA_HOME"] = str(folder / "data")
    os.environ["TUIAPP_CONFIG"] = str(folder / "none.toml")
    try:
        base = folder / "demo.db"
        open_database(base)
        build_demo()
        db.close()
        run(MINIMAL)  # warm the disk cache for both
        run(TUIAPP, str(base))
        kinds = {"minimal Textual app": (MINIMAL,), "tuiapp, without psycopg": (WITHOUT_PSYCOPG + TUIAPP, str(base)),
                 "tuiapp, with psycopg": (TUIAPP, str(base))}
        results: dict[str, list[tuple[float, int, float]]] = {kind: [] for kind in kinds}
        for _ in range(args.runs):
            for kind, arguments in kinds.items():
                results[kind].append(run(*arguments))
        print(f"load average {os.getloadavg()[0]:.1f}; median of {args.runs} runs each")
        medians = {kind: tuple(statistics.median(run[i] for run in runs) for i in range(3))
                   for kind, runs in results.items()}
        base_time, base_memory, base_cpu = medians["minimal Textual app"]
        for kind, (elapsed, memory, cpu) in medians.items():
            print(f"{kind:24} start to first screen {elapsed * 1000:4.0f} ms ({elapsed / base_time:.2f}x, goal <= 1.2), "
                  f"processor {cpu * 1000:4.0f} ms ({cpu / base_cpu:.2f}x); "
                  f"peak memory {memory / 1024:5.1f} MiB ({memory / base_memory:.2f}x, goal <= 1.3)")
        if args.modules:
            extra = sorted(modules(WITHOUT_PSYCOPG + TUIAPP, folder, str(base)) - modules(MINIMAL, folder))
            print(f"{len(extra)} modules that only tuiapp imports:")
            print(" ".join(extra))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
