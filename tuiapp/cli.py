"""The ``tuiapp`` command: starts the TUI, or runs a task on the same core."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from peewee import DatabaseError as PeeweeDatabaseError

from tuiapp import __version__
from tuiapp.core.errors import TuiappError
from tuiapp.locations import demo_db_path, resolve_db_path

EXIT_OK = 0
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own messages stay in English
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog} : erreur : {message}\n")


def _add_db_option(parser: argparse.ArgumentParser, *, default) -> None:
    parser.add_argument(
        "--db",
        metavar="FICHIER",
        default=default,
        help="base de données SQLite (sinon $TUIAPP_DB, sinon le dossier de données de l'utilisateur)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tuiapp",
        description="Envoi par e-mail des factures de contribution des résidents. "
        "Sans commande : ouvre l'application.",
    )
    parser.add_argument("--version", action="version", version=f"tuiapp {__version__}")
    _add_db_option(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=_Parser)

    init = commands.add_parser("init", help="crée une base vide")
    _add_db_option(init, default=argparse.SUPPRESS)

    demo_init = commands.add_parser("init-demo", help="crée la base de démonstration")
    _add_db_option(demo_init, default=argparse.SUPPRESS)
    demo_init.add_argument("--reset", action="store_true", help="reconstruit une base de démonstration existante")

    demo = commands.add_parser("demo", help="crée la base de démonstration si besoin et ouvre l'application")
    _add_db_option(demo, default=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        handler = {
            None: _run_app,
            "init": _init,
            "init-demo": _init_demo,
            "demo": _demo,
        }[args.command]
        return handler(args)
    except TuiappError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PeeweeDatabaseError as exc:
        from tuiapp.db.database import db, explain_database_error

        print(f"Erreur : {explain_database_error(db.database or '?', exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130


def _open(path: Path, *, create: bool) -> None:
    from tuiapp.db.database import DatabaseOpenError, open_database

    try:
        open_database(path, create=create)
    except DatabaseOpenError as exc:
        if not create and not path.exists():
            raise DatabaseOpenError(
                f"{exc} Pour la créer : « tuiapp init --db {path} » "
                f"(ou « tuiapp init-demo --db {path} » pour une base de démonstration)."
            ) from None
        raise


def _run_app(args: argparse.Namespace) -> int:
    path, explicit = resolve_db_path(args.db)
    _open(path, create=not explicit)
    return _start_tui(path)


def _start_tui(path: Path) -> int:
    from tuiapp.app import create_app

    app = create_app(path)
    app.run()
    return app.return_code or EXIT_OK


def _init(args: argparse.Namespace) -> int:
    path, _ = resolve_db_path(args.db)
    existed = path.exists() and path.stat().st_size > 0
    _open(path, create=True)
    print(f"Base {'déjà présente, à jour' if existed else 'créée'} : {path}")
    return EXIT_OK


def _build_demo(path: Path, *, reset: bool) -> None:
    from tuiapp.core.demo import build_demo

    _open(path, create=True)
    summary = build_demo(reset=reset)
    what = "créée" if summary.created else "déjà présente (rien n'a été modifié ; --reset pour la reconstruire)"
    print(
        f"Base de démonstration {what} : {path}\n"
        f"  {summary.structures} structures, {summary.residents} résidents, {summary.invoices} factures"
    )


def _init_demo(args: argparse.Namespace) -> int:
    path = Path(args.db).expanduser() if args.db else demo_db_path()
    _build_demo(path, reset=args.reset)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.db).expanduser() if args.db else demo_db_path()
    _build_demo(path, reset=False)
    return _start_tui(path)
