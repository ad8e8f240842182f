"""The ``tuiapp`` command: starts the TUI, or runs a task on the same core."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tuiapp import __version__
from tuiapp.cli import base, french
from tuiapp.cli.common import EXIT_USAGE, Parser, add_db_option, silence, tolerant_output, warn
from tuiapp.db.database import DATABASE_ERRORS
from tuiapp.domain.errors import TuiappError


def build_parser() -> Parser:
    from tuiapp.cli import db_copy, history, imports, send, server, smtp

    parser = Parser(
        prog="tuiapp",
        description="Envoi par e-mail des factures de contribution des résidents. "
        "Sans commande : ouvre l'application.",
    )
    parser.add_argument("--version", action="version", version=f"tuiapp {__version__}", help=french.VERSION)
    add_db_option(parser, default=None)
    parser.set_defaults(func=base.run_app)
    commands = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=Parser)
    for module in (base, smtp, send, history, imports, server, db_copy):
        module.register(commands)
    return parser


def app_only(argv: Sequence[str] | None) -> argparse.Namespace | None:
    """``tuiapp`` with no command, only ``--db`` (as the operator starts the app), read without
    building every command's parser: their modules and parsers took 10 to 15 ms before the home
    screen. None for anything else (a command, --help, --version, a mistake): the full parser
    reads it, and says what it says."""
    quick = Parser(prog="tuiapp", add_help=False, exit_on_error=False)
    add_db_option(quick, default=None)
    try:
        args, rest = quick.parse_known_args(argv)
    except argparse.ArgumentError:  # "--db" without its value
        return None
    if rest:
        return None
    args.command, args.func = None, base.run_app  # as the full parser's defaults
    return args


def main(argv: Sequence[str] | None = None) -> int:
    tolerant_output()
    args = app_only(argv) or build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TuiappError as exc:
        warn(f"Erreur : {exc}")
        return EXIT_USAGE
    except DATABASE_ERRORS as exc:  # sqlite3's own (a damaged page met mid-read), the PostgreSQL driver's
        from tuiapp.db.database import current_target, explain_database_error

        warn(f"Erreur : {explain_database_error(current_target(), exc)}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        warn("Interrompu.")
        return 130
    except BrokenPipeError:  # "tuiapp history | head": the reader has left
        silence(sys.stdout)
        return EXIT_USAGE
