"""What the CLI commands share: exit codes, the --db option, opening the base, asking."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuiapp.cli import french
from tuiapp.domain.db_target import DatabaseTarget
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.safe_text import printable
from tuiapp.locations import resolve_db_path

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # some invoices failed or are still waiting
EXIT_USAGE = 2  # bad input or settings


class Parser(argparse.ArgumentParser):
    """The parser of ``tuiapp`` and of every subcommand (``parser_class``): its help and its errors
    in French (``tuiapp.cli.french``). Its epilog may be a function, called when the help is shown
    (what it reads is then not imported by every start of ``tuiapp``)."""

    def __init__(self, prog: str | None = None, *, add_help: bool = True, **kwargs) -> None:
        kwargs["formatter_class"] = french.in_french(kwargs.get("formatter_class", argparse.HelpFormatter))
        super().__init__(prog, add_help=False, **kwargs)
        self._positionals.title = french.POSITIONALS
        self._optionals.title = french.OPTIONALS
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help=french.HELP)

    def format_help(self) -> str:
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()

    def _print_message(self, message: str, file=None) -> None:
        # Usage, help and errors quote the arguments given: through printable, like say/warn.
        super()._print_message(printable(message, multiline=True), file)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog} : erreur : {french.translate(message)}\n")


def add_db_option(parser: argparse.ArgumentParser, *, default=argparse.SUPPRESS) -> None:
    parser.add_argument(
        "--db",
        metavar="FICHIER",
        default=default,
        help="base de données : un fichier SQLite, ou postgresql://UTILISATEUR@SERVEUR:PORT/BASE (mot de passe "
             "dans ~/.pgpass) ; sinon $TUIAPP_DB, sinon celle de la configuration du serveur, sinon le dossier "
             "de données de l'utilisateur",
    )


def open_db(path: DatabaseTarget, *, create: bool) -> None:
    from tuiapp.db.database import DatabaseOpenError, open_database

    try:
        open_database(path, create=create)
    except DatabaseOpenError as exc:
        if not create and isinstance(path, Path) and _missing(path):
            raise DatabaseOpenError(
                f"{exc} Pour la créer : « tuiapp init --db {path} » "
                f"(ou « tuiapp init-demo --db {path} » pour une base de démonstration)."
            ) from None
        raise


def _missing(path: Path) -> bool:
    """Whether ``path`` is known not to exist (a folder this account cannot enter tells nothing)."""
    try:
        path.stat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def open_existing(args: argparse.Namespace, site=None) -> DatabaseTarget:
    """The base named by --db / $TUIAPP_DB / the server's configuration (which must exist), or the
    default one. ``site``: already located (``services.site.locate``): the configuration is not read again."""
    if site is not None:
        path, explicit = site.database, site.database_must_exist
    else:
        path, explicit = resolve_db_path(args.db)
    open_db(path, create=not explicit)
    return path


def confirm(question: str) -> bool:
    """Ask on the terminal; ``o``/``oui`` means yes."""
    try:
        answer = input(printable(f"{question} [o/N] "))
    except EOFError:
        return False
    return answer.strip().lower() in ("o", "oui", "y", "yes")


def say(text: str = "") -> None:
    """Print a line on standard output; every CLI output goes through here or ``warn``.

    Control characters of the data (ESC sequences ...) come out as U+FFFD, never raw: see ``tuiapp.domain.safe_text``."""
    print(printable(text, multiline=True), flush=True)


def warn(text: str) -> None:
    print(printable(text, multiline=True), file=sys.stderr, flush=True)


def tolerant_output() -> None:
    """A character the terminal's encoding cannot show (latin-1, ASCII) is printed
    as ``?`` rather than stopping the command (a batch half-way, say)."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def silence(stream) -> None:
    """Its reader has gone (``tuiapp history | head``): what is left to print there goes nowhere."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def checked_report_path(report: str | None) -> Path | None:
    """``--report`` of the imports, checked before anything is read."""
    if report is None:
        return None
    path = Path(report).expanduser()
    if not path.parent.is_dir():
        raise TuiappError(f"--report : le dossier « {path.parent} » n'existe pas.")
    if path.is_dir():
        raise TuiappError(f"--report : « {path} » est un dossier.")
    return path


def say_rectified(result) -> None:
    """An import's invoices already mailed that it rectified (or would, on a dry run)."""
    if result.mailed_changed:
        what = "qui seraient rectifiées" if result.dry_run else "rectifiées"
        say(f"Factures {what} (déjà envoyées, à renvoyer) : {', '.join(result.mailed_changed)}.")


def write_import_report(path: Path | None, result) -> bool:
    """``--report``: the import's problems written to ``path``; False (said) when it cannot be. The
    import's outcome is said all the same: the import may have been written already."""
    from tuiapp.services.import_report import write_report

    if path is None:
        return True
    try:
        write_report(path, result.problems)
    except OSError as exc:
        done = " ; l'import, lui, a été fait (voir ci-dessus)" if result.written else ""
        warn(f"Le rapport « {path} » n'a pas pu être écrit ({exc.strerror or type(exc).__name__}){done}.")
        return False
    return True
