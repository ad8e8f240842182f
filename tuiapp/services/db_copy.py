"""``tuiapp db copy``: an association's SQLite file into an empty PostgreSQL base, whole.

Every table, send history included, in one transaction: a copy that fails leaves the target as
empty as it was. The source is read, never written: it must be at this tuiapp's schema version
(``tuiapp init --db FILE`` brings an older one up to date first). The id sequences are set past
the copied ids, so that the next row written on PostgreSQL gets a new id.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from peewee import AutoField, BooleanField

from tuiapp.db.database import DATABASE_ERRORS, db, open_database, release, write_transaction
from tuiapp.db.migrations import SCHEMA_VERSION
from tuiapp.db.sending_models import ALL_MODELS
from tuiapp.domain.db_target import PostgresTarget
from tuiapp.domain.errors import TuiappError

#: Rows sent to the server at once (psycopg pipelines ``executemany``); imported PDFs, up to a few
#: hundred KB each, fewer at a time.
CHUNK = 1000
PDF_CHUNK = 20


class CopyRefused(TuiappError):
    """The copy was not made; the message says why, in French (nothing was written)."""


@dataclass(frozen=True)
class CopyResult:
    rows: dict[str, int]  # table -> rows copied, in the order they were copied


def copy_database(source: Path, target: PostgresTarget) -> CopyResult:
    """Copy ``source`` (an SQLite file) into ``target`` (an empty PostgreSQL base)."""
    reader = _open_source(source)
    try:
        reader.execute("BEGIN")  # one snapshot of the file for every table, whoever writes meanwhile
        open_database(target)
        try:
            with write_transaction():
                filled = [model._meta.table_name for model in ALL_MODELS if model.select().exists()]
                if filled:
                    raise CopyRefused(f"La base {target} n'est pas vide (table {filled[0]}) : la copie ne "
                                      "remplace rien. Donnez-lui une base vide.")
                rows = {model._meta.table_name: _copy_table(reader, model) for model in ALL_MODELS}
                _reset_sequences()
        finally:
            release()
    finally:
        reader.close()
    return CopyResult(rows)


def _open_source(source: Path) -> sqlite3.Connection:
    if not source.is_file():
        raise CopyRefused(f"« {source} » n'est pas un fichier de base tuiapp.")
    try:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        version = reader.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError:
        raise CopyRefused(f"« {source} » n'est pas une base tuiapp lisible.") from None
    if version != SCHEMA_VERSION:
        reader.close()
        if version > SCHEMA_VERSION:
            raise CopyRefused(f"« {source} » a été écrite par une version plus récente de tuiapp (schéma {version}) : "
                              "mettez tuiapp à jour.")
        raise CopyRefused(f"« {source} » est au schéma {version} : mettez-la d'abord à jour "
                          f"(tuiapp init --db {source}), puis recommencez.")
    return reader


def _copy_table(reader: sqlite3.Connection, model) -> int:
    table = model._meta.table_name
    columns = [field.column_name for field in model._meta.sorted_fields]
    booleans = {index for index, field in enumerate(model._meta.sorted_fields) if isinstance(field, BooleanField)}
    quoted = ", ".join(f'"{column}"' for column in columns)
    insert = f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join(["%s"] * len(columns))})'
    cursor = db.cursor()
    count = 0
    try:
        select = reader.execute(f'SELECT {quoted} FROM "{table}" ORDER BY 1')
        chunks = iter(lambda: select.fetchmany(PDF_CHUNK if table == "invoice_pdf" else CHUNK), [])
        for chunk in chunks:
            count += _write(cursor, insert, table, chunk, booleans, count)
    except sqlite3.DatabaseError as exc:
        raise CopyRefused(f"La table {table} de « {reader_name(reader)} » ne se lit pas ({type(exc).__name__}, "
                          f"vers la ligne {count + 1}) : texte illisible ou page endommagée.") from None
    return count


def reader_name(reader: sqlite3.Connection) -> str:
    row = reader.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "?"


def _write(cursor, insert: str, table: str, chunk: list, booleans: set[int], before: int) -> int:
    """``chunk``'s rows inserted; ``before``: how many of the table went first (for the message)."""
    if booleans:  # SQLite keeps 0 and 1
        chunk = [tuple(bool(value) if index in booleans and value is not None else value
                       for index, value in enumerate(row)) for row in chunk]
    try:
        cursor.executemany(insert, chunk)
    except DATABASE_ERRORS as exc:  # psycopg's own (its cursor is used directly): the whole copy is undone
        raise CopyRefused(f"La table {table} contient une valeur que PostgreSQL refuse ({type(exc).__name__}, "
                          f"vers la ligne {before + 1}) : corrigez-la dans la base SQLite, puis recommencez.") from None
    return len(chunk)


def _reset_sequences() -> None:
    """Each SERIAL id's next value past the largest copied (1 for an empty table)."""
    for model in ALL_MODELS:
        if not isinstance(model._meta.primary_key, AutoField):
            continue  # the association's id is always 1; the metadata's key is a name
        table = model._meta.table_name
        db.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                       f'COALESCE(MAX("id"), 1), MAX("id") IS NOT NULL) FROM "{table}"')
