"""The ``tuiapp`` command: starts the TUI, or runs a task on the same core."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tuiapp import __version__
from tuiapp.cli import base, db_copy, french, history, imports, send, server, smtp
from tuiapp.cli.common import EXIT_USAGE, Parser, add_db_option, silence, tolerant_output, warn
from tuiapp.db.database import DATABASE_ERRORS
from tuiapp.domain.errors import TuiappError


def build_parser() -> Parser:
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


def main(argv: Sequence[str] | None = None) -> int:
    tolerant_output()
    args = build_parser().parse_args(argv)
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
