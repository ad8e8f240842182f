"""Writes that go around the models' checks, as an older import or a hostile server reply could
have left them, on the test's base whatever its engine."""

from __future__ import annotations

from tuiapp.db.database import db, is_postgres


def write_around(statement: str, params: tuple = ()) -> None:
    """``statement`` with ``?`` placeholders, run as is. PostgreSQL stores no NUL in a text
    (it refuses it at the door): there, a NUL becomes U+0001, another control character that
    the output must show as harmlessly."""
    if is_postgres():
        statement = statement.replace("?", db.param)
        params = tuple(value.replace("\x00", "\x01") if isinstance(value, str) else value for value in params)
    db.execute_sql(statement, params)
