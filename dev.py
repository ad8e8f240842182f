#!/usr/bin/env python3
"""Set up a local virtual environment, then start the demo or run the tests.

    python3 dev.py demo          # the app on the demo database
    python3 dev.py test [ARGS]   # the whole test suite, then its database tests on PostgreSQL (ARGS go to pytest)
    python3 dev.py check         # the layer contracts, ruff and mypy (CI runs them too)

Needs only Python 3.11+ (with its venv module). The environment lives in
.venv/ and is reinstalled whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_environment(extras: str) -> None:
    # dev.py runs under whatever python3 the machine has, before any venv: keep the check.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit("tuiapp demande Python 3.11 ou plus récent.")
    python = BIN / "python"
    if not (python.exists() and _has_pip(python)):
        print("Création de l'environnement .venv ...", flush=True)
        shutil.rmtree(VENV, ignore_errors=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            shutil.rmtree(VENV, ignore_errors=True)
            sys.exit(f"Impossible de créer .venv ({exc}). Sur Debian/Ubuntu : apt install python3-venv")
    spec = f".[{extras}]" if extras else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installation de tuiapp et de ses dépendances ({spec}) ...", flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([*pip, "-e", spec], check=True, cwd=ROOT)
    stamp.write_text(digest)


CHECKS = (
    ("contrats de couches (import-linter)", ["lint-imports", "--no-cache"]),
    ("ruff", ["ruff", "check", "."]),
    ("mypy", ["mypy"]),
)


def check() -> int:
    """Every static check, each reported; non-zero if any fails."""
    failed = []
    for label, command in CHECKS:
        print(f"--- {label}", flush=True)
        if subprocess.call([str(BIN / command[0]), *command[1:]], cwd=ROOT) != 0:
            failed.append(label)
    if failed:
        print(f"Échec : {', '.join(failed)}", flush=True)
        return 1
    return 0


def _has_pip(python: Path) -> bool:
    return subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode == 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "check"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    # The test extra is a superset, so one environment serves both commands.
    ensure_environment("test")
    if command == "demo":
        return subprocess.call([str(BIN / "tuiapp"), "demo", *rest], cwd=ROOT)
    if command == "check":
        return check()
    pytest = [str(BIN / "python"), "-m", "pytest"]
    if not _has_postgresql():
        print("PostgreSQL absent : ses tests sont sautés, et la seconde passe, sur PostgreSQL, n'est pas "
              "faite (Debian/Ubuntu : apt install postgresql).", flush=True)
        return subprocess.call([*pytest, *rest], cwd=ROOT)
    if any(arg.startswith("--engine") for arg in rest):
        return subprocess.call([*pytest, *rest], cwd=ROOT)
    # Two passes: the whole suite (SQLite, the PostgreSQL tests included), then again every test
    # that opens the base through the ``database`` or ``demo_db`` fixture, each on a PostgreSQL database.
    print("--- première passe : la suite entière (SQLite ; les tests PostgreSQL compris)", flush=True)
    first = subprocess.call([*pytest, *rest], cwd=ROOT)
    print("--- seconde passe : les tests de la base, sur PostgreSQL (--engine postgresql)", flush=True)
    second = subprocess.call([*pytest, "--engine", "postgresql", *rest], cwd=ROOT)
    return first or (0 if second == 5 else second)  # 5: ARGS chose no test of the base


def _has_postgresql() -> bool:
    """Whether the PostgreSQL tests can start a server (tests/pg_cluster.py looks in the same places)."""
    import glob

    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or shutil.which("initdb") is not None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
