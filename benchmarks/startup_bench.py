"""Start-up time and peak memory of the TUI against a minimal Textual app (run on demand).

    .venv/bin/python benchmarks/startup_bench.py [--runs 7] [--modules]

Both apps are started the same way, each in a fresh Python process (``-c``, the
interpreter's own start included), headless at 80x24, and quit once their first
screen is on screen:

- the minimal app: ``Header``, ``Static``, ``Footer``;
- tuiapp: the ``tuiapp`` command on the demo base (``tuiapp --db BASE``: its
  parser, where the base is, ``create_app``, the app); twice: as installed
  without the ``postgresql`` extra (psycopg made unimportable in the child:
  Peewee imports it at its own import wherever it is installed, 60 to 100 ms
  and 10 MiB), and as this environment has it.

Two moments are measured from the process's start (each child notes them, on the
clock the parent shares): the home screen *drawn* (its first frame: menu, keys,
« … » for its figures) and *filled* (the frame after its figures were read:
counts, periods, invoices waiting). The minimal app has nothing to read: both are
its first frame, the reference of every ratio (issue 14: start <= 1.2x). The
processor time at each moment too, which a loaded machine disturbs less than the
wall time, and the peak resident memory (``os.wait4``; goal <= 1.3x).

The children write and read their bytecode in a folder of the run's own: with
PYTHONDONTWRITEBYTECODE set (as in some development shells), an editable install
compiles tuiapp's ~70 modules from source at every start (25 to 35 ms), which an
installed wheel, compiled by pip, never does. The runs alternate (minimal, tuiapp,
tuiapp...), so that the machine's drift touches each. ``--modules`` lists the
modules tuiapp imported that the minimal app did not.
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

#: Each child writes, into the file named by its last argument, the moments (``time.time()``, the
#: clock the parent shares) and its processor time so far when its first frame is drawn
#: ("drawn") and when its figures are on screen ("filled"; the minimal app has none to read).
MARK = """
import json, sys, time
marks = {}

def mark(name):
    marks[name] = (time.time(), time.process_time())
    if name == "filled":
        with open(sys.argv[-1], "w") as out:
            json.dump(marks, out)
"""

MINIMAL = MARK + """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("Association")
        yield Footer()

    def on_mount(self):
        self.call_after_refresh(self.drawn)

    def drawn(self):
        mark("drawn")
        mark("filled")
        self.exit()

Minimal().run(headless=True, size=(80, 24))
"""

#: tuiapp draws its home screen, then reads its figures (``HomeScreen.on_screen_resume``): "drawn"
#: is the frame before the reads, "filled" the frame after them.
TUIAPP = MARK + """
from tuiapp.app import TuiApp
from tuiapp.screens.home import HomeScreen

resume, read = HomeScreen.on_screen_resume, HomeScreen.refresh_overview

def on_screen_resume(self):
    self.call_after_refresh(mark, "drawn")  # before the reads queued after the same frame
    resume(self)

def refresh_overview(self):
    read(self)
    self.call_after_refresh(lambda: (mark("filled"), self.app.exit()))

HomeScreen.on_screen_resume, HomeScreen.refresh_overview = on_screen_resume, refresh_overview
run = TuiApp.run
TuiApp.run = lambda self: run(self, headless=True, size=(80, 24))
from tuiapp.cli import main

main(["--db", sys.argv[1]])  # as an operator types: tuiapp --db BASE
"""

#: An install without the ``postgresql`` extra: ``import psycopg`` fails, as it would there.
WITHOUT_PSYCOPG = "import sys\nsys.modules['psycopg'] = None\n"

#: The children's environment (set in ``main``): their bytecode kept in a folder of the run's own.
CHILD_ENV: dict[str, str] = {}

MODULES = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=open(sys.argv[-2], 'w'))\n"


def run(code: str, *args: str) -> dict[str, float]:
    """One child: wall times (s) from its start to its first frame ("drawn") and to its figures
    shown ("filled"), its processor time at each (``*_cpu``), and its peak resident memory (KiB)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as marks:
        start = time.time()
        child = subprocess.Popen([sys.executable, "-c", code, *args, marks.name], cwd=ROOT,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=CHILD_ENV)
        _, status, usage = os.wait4(child.pid, 0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"the child failed ({os.waitstatus_to_exitcode(status)})")
        moments = json.loads(Path(marks.name).read_text())
    figures = {"memory": float(usage.ru_maxrss)}
    for name, (moment, cpu) in moments.items():
        figures[name], figures[f"{name}_cpu"] = moment - start, cpu
    return figures


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
    CHILD_ENV.update(os.environ, PYTHONPYCACHEPREFIX=str(folder / "bytecode"))
    CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        demo = folder / "demo.db"
        open_database(demo)
        build_demo()
        db.close()
        run(MINIMAL)  # warm the disk cache for both
        run(TUIAPP, str(demo))
        kinds = {"minimal Textual app": (MINIMAL,), "tuiapp, without psycopg": (WITHOUT_PSYCOPG + TUIAPP, str(demo)),
                 "tuiapp, with psycopg": (TUIAPP, str(demo))}
        results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        for _ in range(args.runs):
            for kind, arguments in kinds.items():
                results[kind].append(run(*arguments))
        print(f"load average {os.getloadavg()[0]:.1f}; median of {args.runs} runs each; "
              "from the process's start (ratio to the minimal app's first frame)")
        medians = {kind: {name: statistics.median(run[name] for run in runs) for name in runs[0]}
                   for kind, runs in results.items()}
        base = medians["minimal Textual app"]
        for kind, figures in medians.items():
            print(f"{kind:24} " + "; ".join(
                f"{what} {figures[name] * 1000:4.0f} ms ({figures[name] / base['drawn']:.2f}x), "
                f"processor {figures[name + '_cpu'] * 1000:4.0f} ms ({figures[name + '_cpu'] / base['drawn_cpu']:.2f}x)"
                for what, name in (("home screen drawn", "drawn"), ("filled", "filled")))
                + f"; peak memory {figures['memory'] / 1024:5.1f} MiB ({figures['memory'] / base['memory']:.2f}x)")
        print("goals (issue 14): start to the home screen <= 1.2x, peak memory <= 1.3x")
        if args.modules:
            extra = sorted(modules(WITHOUT_PSYCOPG + TUIAPP, folder, str(demo)) - modules(MINIMAL, folder))
            print(f"{len(extra)} modules that only tuiapp imports:")
            print(" ".join(extra))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
