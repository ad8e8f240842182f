"""Where tuiapp keeps its files (XDG directories through platformdirs)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from platformdirs import user_data_path

from tuiapp import system_config
from tuiapp.domain.db_target import DatabaseTarget, PostgresTarget, parse_target

APP_NAME = "tuiapp"
DB_ENV = "TUIAPP_DB"

# File modes, defined here once. What the operators of one database share
# (the send journal beside it) is made group-writable and closed to others,
# whatever the creator's umask (the group is the folder's); every other file
# (PDFs, CSV exports) is created ``UMASK_FILE_MODE``: the operator's umask decides.
SHARED_FOLDER_MODE = 0o770  # rwxrwx---
SHARED_FILE_MODE = 0o660  # rw-rw----
UMASK_FILE_MODE = 0o666  # rw-rw-rw- less the umask


def data_dir() -> Path:
    return user_data_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    return data_dir() / "tuiapp.db"


def demo_db_path() -> Path:
    return data_dir() / "demo.db"


def demo_mail_dir() -> Path:
    """Where the demo's catch-all mail server writes the messages it receives."""
    return data_dir() / "demo-mails"


def journal_dir(target: DatabaseTarget) -> Path:
    """The send journal's folder (``tuiapp.sending.journal``): beside an SQLite file, where all who
    use the file reach it; for a PostgreSQL base, in this account's data directory (a claim made
    on another machine is judged by its service's heartbeat, not by its journal)."""
    if isinstance(target, PostgresTarget):
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{target.user}@{target.host}_{target.port}_{target.name}")
        return data_dir() / "send-journal" / name
    return Path(f"{target}.send-journal")


def resolve_db_path(cli_value: str | None, environ: Mapping[str, str] = os.environ) -> tuple[DatabaseTarget, bool]:
    """The database to use and whether it must exist already (see ``locate_db``)."""
    path, named, _ = locate_db(cli_value, environ)
    return path, named


def locate_db(cli_value: str | None, environ: Mapping[str, str] = os.environ) -> tuple[DatabaseTarget, bool, str]:
    """The database to use: ``--db``, else ``$TUIAPP_DB``, else the association
    server's configuration (``tuiapp.system_config``), else the user's data directory.
    Each may name a file or a PostgreSQL base (``postgresql://``: ``tuiapp.domain.db_target``).

    Returns the path, whether it must exist already (a file the operator or
    the configuration names that does not exist is a typo more often than a
    wish to create it), and why it was chosen, in French. Raises
    ``ConfigError`` when a configuration file exists but cannot be used.
    """
    if cli_value is not None:
        if not cli_value.strip():
            from tuiapp.domain.errors import TuiappError

            raise TuiappError("--db : indiquez un nom de fichier.")
        return parse_target(cli_value), True, "option --db"
    if environ.get(DB_ENV, "").strip():
        return parse_target(environ[DB_ENV]), True, f"${DB_ENV}"
    config = system_config.load(environ)
    if config is not None:
        return config.database, True, f"configuration du serveur ({config.path})"
    return default_db_path(), False, "dossier de données de l'utilisateur"
