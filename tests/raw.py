"""Writes that go around the models' checks, as an older import or a hostile server reply could
have left them, on the test's base whatever its engine."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from tuiapp.db.database import WRITER_LOCK, db, is_postgres


def write_around(statement: str, params: tuple = ()) -> None:
    """``statement`` with ``?`` placeholders, run as is. PostgreSQL stores no NUL in a text
    (it refuses it at the door): there, a NUL becomes U+0001, another control character that
    the output must show as harmlessly."""
    if is_postgres():
        statement = statement.replace("?", db.param)
        params = tuple(value.replace("\x00", "\x01") if isinstance(value, str) else value for value in params)
    db.execute_sql(statement, params)

#: The tables of a PostgreSQL base (of the schema its connections use).
TABLES_HERE = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"


class RawConnection:
    """A connection of the test's own to its base, around the app's (``sqlite3`` on a file, psycopg
    on a PostgreSQL target): statements with ``?`` placeholders on either engine."""

    def __init__(self, target) -> None:
        self.postgres = not isinstance(target, str | os.PathLike)
        if self.postgres:
            import psycopg

            self._connection = psycopg.connect(**target.connect_arguments())  # the password: $PGPASSFILE
            # a lock the app holds fails the statement after 30 s, as sqlite3's busy wait would, not at
            # pytest's timeout
            self._connection.execute("SET lock_timeout = '30s'")
        else:
            self._connection = sqlite3.connect(target)

    def _sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s") if self.postgres else statement

    def execute(self, statement: str, params=()):
        return self._connection.execute(self._sql(statement), params)

    def executemany(self, statement: str, rows) -> None:
        if self.postgres:
            self._connection.cursor().executemany(self._sql(statement), rows)
        else:
            self._connection.executemany(statement, rows)

    def hold_writers(self) -> None:
        """Another workstation's long write, until the connection commits, rolls back or closes:
        SQLite's write lock (BEGIN IMMEDIATE), or on PostgreSQL the writers' advisory lock that
        stands for it (``tuiapp.db.database.write_transaction``)."""
        if self.postgres:
            self.execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK,))
        else:
            self.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._connection.commit()

    def close(self) -> None:
        self._connection.close()


@contextmanager
def raw(target) -> Iterator[RawConnection]:
    """``RawConnection`` to ``target``, committed when the block ends without an error, then closed."""
    connection = RawConnection(target)
    try:
        yield connection
        connection.commit()
    finally:
        connection.close()



def every_value(target=None) -> bytes:
    """Every value of every table of a PostgreSQL base (``target``, or the app's bound one), each
    as the bytes it holds (a text in UTF-8, a bytea as is), one per line: where a secret would be
    found if a table kept it (``repr`` of the rows would escape a backslash or an accent)."""
    if target is None:
        return _every_value(lambda statement: db.execute_sql(statement).fetchall())
    with raw(target) as connection:
        return _every_value(lambda statement: connection.execute(statement).fetchall())


def _every_value(rows_of) -> bytes:
    tables = [name for (name,) in rows_of(TABLES_HERE)]
    values = [value for table in tables for row in rows_of(f'SELECT * FROM "{table}"') for value in row
              if value is not None]
    return b"\n".join(bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                      for value in values)
