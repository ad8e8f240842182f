"""The one database of a run: an SQLite file (the embedded default) or a PostgreSQL server
(``tuiapp.db.postgres``), chosen at start-up; declared here unbound, behind a proxy."""

from __future__ import annotations

import errno
import functools
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import peewee
from peewee import AutoField, DatabaseProxy, Model, OperationalError, PostgresqlDatabase, SqliteDatabase
from peewee import DatabaseError as PeeweeDatabaseError

from tuiapp.db import file_access
from tuiapp.domain.db_target import PostgresTarget, parse_target
from tuiapp.domain.errors import TuiappError

# WAL lets readers work while a writer commits (several operators on one
# file); synchronous=FULL because a send record must survive a power cut;
# the busy timeout makes a writer wait for another instead of failing (the
# send path then tries again with back-off: ``tuiapp.db.waiting``).
PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "synchronous": "full",
}

#: The SQLite database object: bound to a file by ``open_database``.
SQLITE = SqliteDatabase(None)
#: What every model and query uses: SQLite, or the PostgreSQL database that ``open_database`` made.
db = DatabaseProxy()
db.initialize(SQLITE)


@functools.lru_cache(maxsize=1024)
def fold(text: str | None) -> str:
    """Text without case or accents: how French names are compared and searched.

    Cached: sorting by the ``fr`` collation folds each name once per comparison,
    about 2 log2(n) times; the hostile-data list of 13 rows spent 5 s folding."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Names are sorted by ``fold(name), name`` and searched in ``fold(name)``: É with E, lower
# case with upper case (SQLite's own order puts them after Z). On PostgreSQL, ``fold`` is an
# SQL function of the schema that gives the same text (``tuiapp.db.postgres_schema``).
SQLITE.func("fold")(fold)


_target: Path | PostgresTarget | None = None


def current_target() -> Path | PostgresTarget:
    """The database ``open_database`` opened last: its file, or its PostgreSQL base."""
    if _target is None:
        return Path(db.database or "?")
    return _target


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


#: The key of PostgreSQL's advisory lock that stands for SQLite's write lock.
WRITER_LOCK = 0x74756961  # "tuia"


@contextmanager
def write_transaction() -> Iterator[object]:
    """A transaction that writes after reading, one writer at a time, as every claim, slot and
    import needs: SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL, a transaction that first takes one
    advisory lock (released at its end; waits at most the busy timeout, ``lock_timeout``).
    Nested: a savepoint (the lock is already held)."""
    if is_postgres():
        with db.atomic() as txn:
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            yield txn
    else:
        with db.atomic("IMMEDIATE") as txn:
            yield txn


class BaseModel(Model):
    if TYPE_CHECKING:  # what Peewee adds to every model, told to mypy (no effect at run time)
        id = AutoField()

    class Meta:
        database = db
        legacy_table_names = False


#: What SQLite, peewee and the PostgreSQL driver raise when the base cannot be used (locked,
#: read-only, damaged, disk full, a connection dropped): peewee wraps most, but a row fetched
#: later can raise sqlite3's own, and psycopg's cursor used directly raises psycopg's. (Peewee
#: imports psycopg itself wherever it is installed: naming it here loads nothing more.)
_PSYCOPG = getattr(peewee, "psycopg", None)
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.DatabaseError, PeeweeDatabaseError, peewee.InterfaceError,  # (not a DatabaseError of Peewee's)
    *((_PSYCOPG.Error,) if _PSYCOPG is not None else ()))
#: Those of them that may pass (locked, a server gone): the ones ``tuiapp.db.waiting`` reads.
OPERATIONAL_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError, OperationalError, peewee.InterfaceError,
    *((_PSYCOPG.OperationalError,) if _PSYCOPG is not None else ()))


class DatabaseOpenError(TuiappError):
    """The database file cannot be used; the message says why, in French."""


def open_database(path: Path | PostgresTarget | str, *, create: bool = True) -> DatabaseProxy:
    """Bind ``db`` to ``path`` (a file, or a PostgreSQL server), apply the pragmas and bring the
    schema up to date.

    Calling it again with the same path is harmless; with another path it
    closes the previous file first.
    """
    global _target
    from tuiapp.db.migrations import migrate

    if isinstance(path, str):  # as --db reads it: a URL is a server, never a folder named "postgresql:"
        path = parse_target(path)
    if isinstance(path, PostgresTarget):
        from tuiapp.db.postgres import open_postgres

        release()
        db.initialize(open_postgres(path))
        _target = path
        return db
    path = Path(path)
    if db.obj is SQLITE and db.database == str(path) and not db.is_closed():
        return db
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except PermissionError:
        raise DatabaseOpenError(file_access.explain_unreachable(path)) from None
    except OSError:
        raise DatabaseOpenError(f"Chemin de base de données inutilisable : « {path} ».") from None
    if not exists:
        if not create:
            raise DatabaseOpenError(f"La base « {path} » n'existe pas.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            raise DatabaseOpenError(f"Impossible de créer le dossier « {path.parent} » (droits ?).") from None
    elif is_dir:
        raise DatabaseOpenError(f"« {path} » est un dossier, pas une base de données.")
    elif not path.is_file():
        raise DatabaseOpenError(f"« {path} » n'est pas un fichier de base de données.")
    release()
    db.initialize(SQLITE)
    # SQLite is not let near a file this account cannot use: it would open it
    # read-only or fail, and could leave a -wal and -shm of ours that others cannot write.
    try:
        if not exists:
            file_access.create_shared_file(path)
        file_access.check_access(path)
    except file_access.AccessRefused as refusal:
        raise DatabaseOpenError(str(refusal)) from None
    except OSError as exc:  # a full disk (no inode left), an I/O error
        raise DatabaseOpenError(_explain_file_error(path, exc)) from None
    from tuiapp.domain import timing

    busy = timing.busy_timeout()
    SQLITE.init(str(path), pragmas={**PRAGMAS, "busy_timeout": int(busy * 1000)}, timeout=busy)  # type: ignore[arg-type]  # Peewee's stubs say int; sqlite3 takes seconds as a float
    before = file_access.existing_side_files(path)
    try:
        db.connect()
        migrate(SQLITE)
    except (DatabaseOpenError, sqlite3.DatabaseError, PeeweeDatabaseError, OperationalError) as exc:
        db.close()
        file_access.remove_new_side_files(path, before)
        if isinstance(exc, DatabaseOpenError):
            raise
        raise DatabaseOpenError(explain_database_error(path, exc)) from None
    _target = path
    return db


def release() -> None:
    """Close the connection of this thread; a PostgreSQL pool closes all of its own."""
    if db.obj is None:
        return
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def _explain_file_error(path: Path, exc: OSError) -> str:
    from tuiapp.db.waiting import is_disk_full

    if is_disk_full(exc):
        return explain_database_error(path, exc)
    reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return f"Impossible d'utiliser le fichier de la base « {path} » (erreur système {reason})."


def explain_database_error(path: Path | str | PostgresTarget, exc: Exception) -> str:
    """A French sentence for an SQLite error met while using the file (or for a PostgreSQL one)."""
    from tuiapp.db.waiting import disk_full_text, is_disk_full

    if isinstance(path, PostgresTarget):
        from tuiapp.db.postgres import explain_postgres_error

        return explain_postgres_error(path, exc)
    text = str(exc)
    if is_disk_full(exc):
        return f"Impossible d'écrire dans la base « {path} » : {disk_full_text(path)}"
    if "malformed" in text:
        return (f"La base « {path} » est endommagée (une page illisible) : rien n'a été modifié. "
                "Gardez une copie du fichier et restaurez la dernière sauvegarde.")
    if "not a database" in text:
        return f"« {path} » n'est pas une base tuiapp (fichier illisible ou endommagé)."
    if "readonly" in text or "unable to open" in text:
        return f"Impossible d'ouvrir « {path} » en écriture (droits du fichier ou du dossier ?)."
    if "locked" in text or "busy" in text:
        return f"La base « {path} » est occupée par un autre programme ; réessayez dans un instant."
    return f"Impossible d'utiliser la base « {path} » (erreur SQLite : {type(exc).__name__})."
