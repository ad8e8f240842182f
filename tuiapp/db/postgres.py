"""A PostgreSQL server as the association's database (``postgresql://`` in ``--db``, ``$TUIAPP_DB``
or the server's configuration: ``tuiapp.domain.db_target``).

Opened through Peewee's pool of psycopg 3 connections (one per thread, given back when the
thread closes it). The password comes from the pgpass file, as libpq reads it. A writer waits
for another at most the busy timeout (``lock_timeout``), as on SQLite.
"""

from __future__ import annotations

import math
import threading

from peewee import DatabaseError as PeeweeDatabaseError
from peewee import PostgresqlDatabase
from playhouse.pool import PooledPostgresqlDatabase

from tuiapp.db.database import DatabaseOpenError
from tuiapp.db.waiting import is_connection_lost, never_connected
from tuiapp.domain import timing
from tuiapp.domain.db_target import PostgresTarget

#: Connections of one process: the screen's thread, the sending thread and the workers that read
#: files (an operator's session uses 2 or 3); 20 operators stay under PostgreSQL's default of 100.
MAX_CONNECTIONS = 4
#: A pooled connection unused this long is closed rather than reused (seconds).
STALE_AFTER = 300
#: libpq's keepalive settings (seconds, and milliseconds for tcp_user_timeout).
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3",
              "tcp_user_timeout": "60000"}
#: A session idle inside a transaction this long is ended by the server (seconds).
IDLE_IN_TRANSACTION = 300


class _Pool(PooledPostgresqlDatabase):
    """Peewee's pool (a connection per thread), with two repairs:

    - a connection checked out by a thread that has ended is taken back: a screen's thread
      worker never closes its own, and three of them held the pool's four connections;
    - a connection the server dropped (restarted, or the connection ended by its
      administrator) is replaced at the next statement outside a transaction, rather than
      failing every statement of its thread from then on."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._owners: dict[int, threading.Thread] = {}

    def _connect(self):
        with self._pool_lock:
            for key, owner in list(self._owners.items()):
                if key not in self._in_use:
                    del self._owners[key]
                elif not owner.is_alive():
                    del self._owners[key]
                    self._close_raw(self._in_use.pop(key).connection)
            connection = super()._connect()
            self._owners[self.conn_key(connection)] = threading.current_thread()
        return connection

    def cursor(self, named_cursor=None):
        connection = self._state.conn
        if connection is not None and not self._state.closed and connection.closed and not self.in_transaction():
            self.close()  # not reusable: the pool closes it; the next line connects again
        return super().cursor(named_cursor)


def open_postgres(target: PostgresTarget) -> PostgresqlDatabase:
    """A pooled database on ``target``, connected, its schema up to date; ``DatabaseOpenError``
    (French) when psycopg is missing, the server cannot be reached or refuses us."""
    try:
        import psycopg  # noqa: F401  (Peewee picks it up: prefer_psycopg3)
    except ImportError:
        raise DatabaseOpenError("Base PostgreSQL : le module psycopg manque. Installez-le avec tuiapp : "
                                "pip install 'tuiapp[postgresql]'.") from None
    from tuiapp.db.migrations import SCHEMA_VERSION
    from tuiapp.db.postgres_schema import migrate_postgres

    busy = timing.busy_timeout()
    arguments = target.connect_arguments()
    arguments.pop("dbname")
    arguments.setdefault("connect_timeout", str(max(2, math.ceil(busy))))
    # A server that vanishes (a network cut) is noticed within about a minute rather than at the
    # kernel's two hours: TCP keepalives, and a bound on unacknowledged data.
    for name, value in KEEPALIVES.items():
        arguments.setdefault(name, value)
    # On the server's side, a session whose client vanished inside a transaction (holding the
    # writers' lock) ends after IDLE_IN_TRANSACTION seconds; every transaction here is short.
    options = f"-c lock_timeout={int(busy * 1000)} -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION * 1000}"
    # No statement prepared on the server: psycopg prepares one run 5 times, and the server may then
    # plan it once for any values; an import's "number IN (500 values)" so became a scan comparing
    # each row with the whole list. Planned for their values, statements took the 50,000-row import
    # test from 24.4 s to 12.1 s (6.5 s on SQLite; tests/test_import_large.py, 4 December 2026).
    database = _Pool(
        target.name, prefer_psycopg3=True, max_connections=MAX_CONNECTIONS, stale_timeout=STALE_AFTER,
        timeout=busy, options=options, prepare_threshold=None, **arguments)
    try:
        database.connect()
        migrate_postgres(database, SCHEMA_VERSION)
    except DatabaseOpenError:
        _close(database)
        raise
    except (PeeweeDatabaseError, OSError) as exc:
        _close(database)
        raise DatabaseOpenError(explain_postgres_error(target, exc)) from None
    except Exception as exc:  # psycopg's own, raised outside Peewee's wrapper
        if not _is_psycopg(exc):
            raise
        _close(database)
        raise DatabaseOpenError(explain_postgres_error(target, exc)) from None
    return database


def _close(database: PostgresqlDatabase) -> None:
    if not database.is_closed():
        database.close()
    database.close_all()  # type: ignore[attr-defined]  # the pool's


def _is_psycopg(exc: Exception) -> bool:
    return type(exc).__module__.startswith("psycopg")


def _sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of the driver's error behind ``exc`` ("" when there is none: libpq's own)."""
    link: BaseException | None = exc
    for _ in range(5):
        if link is None:
            break
        state = getattr(link, "sqlstate", None)
        if state:
            return str(state)
        link = link.__cause__ or link.__context__
    return ""


def explain_postgres_error(target: PostgresTarget, exc: Exception) -> str:
    """A French sentence for what the server or libpq said. Their text is not shown: it may
    quote what a server sent; its meaning is read from its SQLSTATE, else from its words."""
    state, text = _sqlstate(exc), str(exc).lower()
    where = f"« {target} »"
    if state in ("55P03", "40P01") or "lock timeout" in text:
        return f"La base {where} est occupée par un autre programme ; réessayez dans un instant."
    if state == "25006" or "read-only transaction" in text:  # a standby server, default_transaction_read_only
        return (f"Impossible d'utiliser la base {where} en écriture : le serveur ne la donne qu'en lecture "
                "(serveur de secours, ou réglage de son administrateur) ; rien n'y a été écrit.")
    if "unrecognized configuration parameter" in text or "unsupported startup parameter" in text:
        return (f"La base {where} refuse les réglages de session de tuiapp (lock_timeout, "
                "idle_in_transaction_session_timeout) : il faut PostgreSQL 10 ou plus récent, joint directement "
                "(pas au travers de PgBouncer).")
    if state.startswith("28") or "password" in text or "authentication" in text or (
            "role" in text and "does not exist" in text):
        return (f"Connexion à la base {where} refusée : utilisateur ou mot de passe. Le mot de passe se met "
                "dans ~/.pgpass (ou le fichier que nomme $PGPASSFILE), lisible par vous seul (chmod 600).")
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return f"La base {where} n'existe pas sur ce serveur : demandez à son administrateur de la créer."
    if state == "42501" or "permission denied" in text:
        return f"La base {where} refuse cet utilisateur (droits insuffisants sur la base ou ses tables)."
    if is_connection_lost(exc) and not never_connected(exc):  # (over TLS, a dropped one is an "SSL error")
        return (f"La connexion à la base {where} a été coupée (serveur redémarré ?) : l'opération n'a pas été "
                "faite ; recommencez.")
    if "certificate" in text or ("ssl" in text and "syscall" not in text):
        return (f"Connexion à la base {where} : le certificat du serveur n'a pas pu être vérifié "
                f"(sslmode={target.sslmode}). Vérifiez le nom du serveur et le certificat de son autorité "
                "(sslrootcert=...).")
    if any(word in text for word in ("could not connect", "connection refused", "timeout", "timed out",
                                     "could not translate host", "no route", "connection failed")):
        return (f"Serveur PostgreSQL injoignable : {where}. Vérifiez qu'il fonctionne, son nom et son port, "
                "et qu'il accepte les connexions de cette machine.")
    return f"Impossible d'utiliser la base {where} (erreur PostgreSQL : {type(exc).__name__})."
