"""A PostgreSQL server as the association's database (``postgresql://`` in ``--db``, ``$TUIAPP_DB``
or the server's configuration: ``tuiapp.domain.db_target``).

Opened through Peewee's pool of psycopg 3 connections (one per thread, given back when the
thread closes it). The password comes from the pgpass file, as libpq reads it. A writer waits
for another at most the busy timeout (``lock_timeout``), as on SQLite.
"""

from __future__ import annotations

import math

from peewee import DatabaseError as PeeweeDatabaseError
from peewee import PostgresqlDatabase

from tuiapp.db.database import DatabaseOpenError
from tuiapp.domain import timing
from tuiapp.domain.db_target import PostgresTarget

#: Connections of one process: the screen's thread, the sending thread and the workers that read
#: files (an operator's session uses 2 or 3); 20 operators stay under PostgreSQL's default of 100.
MAX_CONNECTIONS = 4
#: A pooled connection unused this long is closed rather than reused (seconds).
STALE_AFTER = 300


def open_postgres(target: PostgresTarget) -> PostgresqlDatabase:
    """A pooled database on ``target``, connected, its schema up to date; ``DatabaseOpenError``
    (French) when psycopg is missing, the server cannot be reached or refuses us."""
    try:
        import psycopg  # noqa: F401  (Peewee picks it up: prefer_psycopg3)
    except ImportError:
        raise DatabaseOpenError("Base PostgreSQL : le module psycopg manque. Installez-le avec tuiapp : "
                                "pip install 'tuiapp[postgresql]'.") from None
    from playhouse.pool import PooledPostgresqlDatabase

    from tuiapp.db.migrations import SCHEMA_VERSION
    from tuiapp.db.postgres_schema import migrate_postgres

    busy = timing.busy_timeout()
    arguments = target.connect_arguments()
    arguments.pop("dbname")
    arguments.setdefault("connect_timeout", str(max(2, math.ceil(busy))))
    database = PooledPostgresqlDatabase(
        target.name, prefer_psycopg3=True, max_connections=MAX_CONNECTIONS, stale_timeout=STALE_AFTER,
        timeout=busy, options=f"-c lock_timeout={int(busy * 1000)}", **arguments)
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


def explain_postgres_error(target: PostgresTarget, exc: Exception) -> str:
    """A French sentence for what the server or libpq said. Their text is not shown: it may
    quote what a server sent; its meaning is read from it."""
    text = str(exc).lower()
    where = f"« {target} »"
    if "password" in text or "authentication" in text or ("role" in text and "does not exist" in text):
        return (f"Connexion à la base {where} refusée : utilisateur ou mot de passe. Le mot de passe se met "
                "dans ~/.pgpass (ou le fichier que nomme $PGPASSFILE), lisible par vous seul (chmod 600).")
    if "certificate" in text or "ssl" in text:
        return (f"Connexion à la base {where} : le certificat du serveur n'a pas pu être vérifié "
                f"(sslmode={target.sslmode}). Vérifiez le nom du serveur et le certificat de son autorité "
                "(sslrootcert=...).")
    if "database" in text and "does not exist" in text:
        return f"La base {where} n'existe pas sur ce serveur : demandez à son administrateur de la créer."
    if "permission denied" in text:
        return f"La base {where} refuse cet utilisateur (droits insuffisants sur la base ou ses tables)."
    if any(word in text for word in ("could not connect", "connection refused", "timeout", "timed out",
                                     "could not translate host", "no route", "connection failed")):
        return (f"Serveur PostgreSQL injoignable : {where}. Vérifiez qu'il fonctionne, son nom et son port, "
                "et qu'il accepte les connexions de cette machine.")
    if "lock" in text:
        return f"La base {where} est occupée par un autre programme ; réessayez dans un instant."
    return f"Impossible d'utiliser la base {where} (erreur PostgreSQL : {type(exc).__name__})."
