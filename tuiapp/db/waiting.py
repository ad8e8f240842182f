"""Writes that wait for another workstation rather than fail, and what to say when they cannot.

SQLite lets one writer at a time. A write of the send path that meets
another's lock is tried again, with back-off, for ``timing.db_wait()``
seconds (60 by default); then it raises ``DatabaseBusy``. A full disk raises
``DiskFull`` at once. Both say why in French, naming the other workstation's
wait or the disk.
"""

from __future__ import annotations

import errno
import functools
import os
import time
from pathlib import Path

from tuiapp.domain import timing
from tuiapp.domain.errors import TuiappError


class DatabaseBusy(TuiappError):
    """Another workstation held the database's write lock for the whole wait."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"Écriture impossible : base occupée par un autre poste depuis {seconds:.0f} s.")


class DiskFull(TuiappError):
    """No space left where the database (or its send journal) lives."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        super().__init__(f"Écriture impossible : {disk_full_text(path)}")


class DatabaseUnreachable(TuiappError):
    """The database server dropped the connection (restarted, stopped): a write that may be
    done again could not be for the whole wait; another one (``seconds`` None) is not tried
    again, since its first run may have been done without its answer reaching us
    (PostgreSQL; a SQLite file has no server)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        if seconds is None:
            text = ("Base inaccessible : la connexion à son serveur a été coupée (redémarré ou arrêté ?) ; "
                    "regardez l'état avant de recommencer.")
        else:
            text = (f"Écriture impossible : le serveur de la base ne répond plus depuis {seconds:.0f} s "
                    "(redémarré ou arrêté ?).")
        super().__init__(text)


def mount_point(path: Path | str) -> Path:
    """The mount point of the file system that holds ``path`` (or its nearest existing parent)."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def disk_full_text(path: Path | str) -> str:
    """« disque plein (…) », naming the disk (mount point) and the folder."""
    folder = Path(os.path.abspath(path)).parent
    return (f"disque plein (disque « {mount_point(folder)} », dossier « {folder} ») : "
            "libérez de la place puis relancez.")


def _chain(exc: BaseException | None):
    """The exception and those it was raised during: a COMMIT that fails for a full
    disk rolls back by itself, and the rollback that follows it then fails too."""
    for _ in range(5):
        if exc is None:
            return
        yield exc
        exc = exc.__context__


def is_disk_full(exc: BaseException) -> bool:
    return any(
        (isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG))
        or "disk is full" in str(link)
        for link in _chain(exc)
    )


#: PostgreSQL's codes for "another writer holds it": lock_timeout ran out, a deadlock broken.
BUSY_SQLSTATES = ("55P03", "40P01")


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" (or busy), PostgreSQL's lock timeout (the advisory lock of
    ``write_transaction`` held longer than ``lock_timeout``)."""
    return any("locked" in str(link) or "busy" in str(link) or "lock timeout" in str(link)
               or getattr(link, "sqlstate", None) in BUSY_SQLSTATES for link in _chain(exc))


#: PostgreSQL's codes for "this connection is gone": class 08 (connection exception) but a
#: protocol violation (08P01: a fault of ours), then the server's own shutdown (57P01), crash
#: (57P02) and start-up (57P03: not accepting connections yet).
LOST_SQLSTATES = ("57P01", "57P02", "57P03")
#: What libpq and psycopg say, without a code, of a connection the server closed (over TLS: an
#: unexpected end of file) or that cannot be made.
_LOST_WORDS = ("connection is closed", "server closed the connection", "consuming input failed",
               "unexpected eof", "ssl syscall error", "could not connect", "connection refused",
               "terminating connection", "no connection to the server", "connection timed out",
               "the database system is starting up", "the database system is shutting down",
               "the database system is in recovery mode", "not yet accepting connections")
#: ... unless the server said why it refused: that is no outage, and waiting will not mend it.
_REFUSED_WORDS = ("authentication", "password", "pg_hba", "does not exist", "permission denied", "certificate")


def is_connection_lost(exc: BaseException) -> bool:
    """The PostgreSQL server dropped the connection or cannot be reached for now: the
    statement was not done (or its transaction rolled back), and a new connection may do it.
    Never for SQLite (no server), nor for a refusal (password, base, rights, certificate)."""
    for link in _chain(exc):
        if not type(link).__module__.startswith("psycopg"):
            continue
        state, text = str(getattr(link, "sqlstate", None) or ""), str(link).lower()
        if state.startswith("28") or state in ("3D000", "42501", "08P01") or any(
                word in text for word in _REFUSED_WORDS):
            return False
        if state.startswith("08") or state in LOST_SQLSTATES or any(word in text for word in _LOST_WORDS):
            return True
    return False


#: ... of which these say the connection was never made: no statement was sent, any write may
#: be tried again.
_NEVER_CONNECTED_WORDS = ("connection refused", "could not connect", "starting up", "shutting down",
                          "in recovery mode", "not yet accepting connections", "no route to host", "timeout expired")


def never_connected(exc: BaseException) -> bool:
    return is_connection_lost(exc) and any(
        getattr(link, "sqlstate", None) == "57P03" or any(word in str(link).lower() for word in _NEVER_CONNECTED_WORDS)
        for link in _chain(exc) if type(link).__module__.startswith("psycopg"))


def database_path() -> str:
    from tuiapp.db.database import db

    return db.database or "?"


def wait_for_writes(function=None, *, again_when_lost: bool = False):
    """Decorate a write: retried with back-off while the database is locked, for
    ``timing.db_wait()`` seconds; ``DatabaseBusy`` or ``DiskFull`` then.

    A PostgreSQL connection lost mid-write (the server restarted) may have lost only the
    answer to a COMMIT that was done. ``again_when_lost``: the write is one whose second run
    changes nothing (its WHERE clause finds its own work done), so it is done again on a new
    connection while the server comes back, for the same wait; else, and after the wait,
    ``DatabaseUnreachable``.

    Inside an open transaction it runs once: its caller's transaction is the
    one to retry."""
    if function is None:
        return functools.partial(wait_for_writes, again_when_lost=again_when_lost)

    @functools.wraps(function)
    def waiting(*args, **kwargs):
        from tuiapp.db.database import OPERATIONAL_ERRORS, db

        if db.in_transaction():
            return function(*args, **kwargs)
        bound = timing.db_wait()
        deadline = time.monotonic() + bound
        delay = timing.BACKOFF_FIRST
        while True:
            try:
                return function(*args, **kwargs)
            except OPERATIONAL_ERRORS as exc:
                if is_disk_full(exc):
                    raise DiskFull(database_path()) from None
                lost = is_connection_lost(exc)
                if lost and not again_when_lost and not never_connected(exc):
                    raise DatabaseUnreachable(None) from None
                if not lost and not is_busy(exc):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise (DatabaseUnreachable if lost else DatabaseBusy)(bound) from None
                time.sleep(min(delay, left))
                delay = min(delay * 2, timing.BACKOFF_MAX)

    return waiting
