"""What the residents' and the invoices' importers share: a row's cells by field, a model's
``ValidationError`` as report lines, the one transaction, bulk writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from tuiapp.domain.errors import ValidationError
from tuiapp.services.import_files import Row, Table
from tuiapp.services.import_report import VALUE_SHOWN, ImportResult, Problem

Progress = Callable[[int, int], None]
CHUNK = 500  # rows per INSERT (SQLite allows 32766 parameters)
PROGRESS_ROWS = 1000


class Cells:
    """A table's cells by field name, under a mapping ``{field: column}``."""

    def __init__(self, table: Table, mapping: Mapping[str, int]) -> None:
        self.table = table
        self.mapping = dict(mapping)

    def has(self, field: str) -> bool:
        return field in self.mapping

    def header(self, field: str) -> str:
        column = self.mapping.get(field)
        return self.table.headers[column] if column is not None and column < len(self.table.headers) else ""

    def get(self, row: Row, field: str) -> str:
        """The cell's text ("" when the field has no column or the row is short)."""
        column = self.mapping.get(field)
        return "" if column is None else self.table.cell(row, column)


def shorten(value: str) -> str:
    return value if len(value) <= VALUE_SHOWN else value[: VALUE_SHOWN - 1] + "…"


def problem(line: int, column: str, value: str, reason: str) -> Problem:
    """A report line; a long value quoted in the reason (a 1 MB cell) is cut there too."""
    if len(reason) > 4 * VALUE_SHOWN and value.strip():
        reason = reason.replace(value.strip(), shorten(value.strip()))
    return Problem(line, column, value, reason)


def problems_of(error: ValidationError, line: int, where: Mapping[str, tuple[str, str]]) -> list[Problem]:
    """``error.errors`` (model field -> message) as problems of ``line``; ``where``: model field ->
    (column header, cell text) of the file."""
    return [problem(line, *where.get(field, ("", "")), message) for field, message in error.errors.items()]


class Ticker:
    """Calls ``progress(done, total)`` now and then."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def tick(self, count: int = 1) -> None:
        before, self.done = self.done, self.done + count
        if self.progress is not None and (self.done // PROGRESS_ROWS != before // PROGRESS_ROWS):
            self.progress(min(self.done, self.total), self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


@contextmanager
def transaction(dry_run: bool):
    """The import's one transaction: IMMEDIATE (no other writer between what is read and what is
    written); a dry run reads in a plain one and never writes."""
    from tuiapp.db.database import db, write_transaction

    with db.atomic() if dry_run else write_transaction() as txn:
        yield txn


def tuples(query) -> Iterable[tuple[Any, ...]]:
    """``query.tuples()``, typed (Peewee's stubs type it as the model)."""
    return cast(Iterable[tuple[Any, ...]], query.tuples())


def dicts(query) -> Iterable[dict[str, Any]]:
    return cast(Iterable[dict[str, Any]], query.dicts())


def chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_all(model, rows: list[dict]) -> None:
    """``rows`` (dicts of the same fields, values already checked) inserted with one prepared
    statement: Peewee's ``insert_many`` spends most of an import's time writing its SQL."""
    from tuiapp.db.database import db

    if not rows:
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    marks = ", ".join([db.param] * len(fields))  # "?" on SQLite, "%s" on PostgreSQL
    statement = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
    converters = [(field.name, _db_value(field)) for field in fields]
    db.cursor().executemany(statement, [[convert(row[name]) for name, convert in converters] for row in rows])


def update_all(model, rows: list[tuple[int, dict]]) -> None:
    """Each (id, {field: value}) written, one prepared statement per set of fields."""
    from tuiapp.db.database import db

    by_fields: dict[tuple[str, ...], list[tuple[int, dict]]] = {}
    for row_id, values in rows:
        by_fields.setdefault(tuple(values), []).append((row_id, values))
    for names, group in by_fields.items():
        fields = [model._meta.fields[name] for name in names]
        assignments = ", ".join(f'"{field.column_name}" = {db.param}' for field in fields)
        statement = f'UPDATE "{model._meta.table_name}" SET {assignments} WHERE "id" = {db.param}'
        converters = [(field.name, _db_value(field)) for field in fields]
        db.cursor().executemany(statement, [[*(convert(values[name]) for name, convert in converters), row_id]
                                            for row_id, values in group])


def _db_value(field) -> Callable[[Any], Any]:
    """How Peewee would store a value of ``field``: a foreign key's id, a date as ISO text."""
    from datetime import date

    from peewee import ForeignKeyField

    def convert(value):
        if isinstance(field, ForeignKeyField) and not isinstance(value, int):
            value = value.id
        value = field.db_value(value)
        return value.isoformat() if isinstance(value, date) else value

    return convert


def refuse_or_write(result: ImportResult, txn, write: Callable[[], None]) -> ImportResult:
    """Nothing is written when there is a problem, or on a dry run."""
    if result.problems or result.dry_run:
        txn.rollback()
        return result
    if result.created or result.updated:
        write()
        result.written = True
    return result
