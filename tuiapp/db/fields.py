"""Column types that keep money exact and time zone-aware on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from peewee import IntegerField, TextField


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTimeField(TextField):
    """An aware ``datetime``, stored as ISO 8601 text in UTC (sorts as text).

    Naive datetimes are refused: a time without its zone cannot be explained
    later to an operator in another shell, or after a change of season.
    """

    def db_value(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"{self.name}: datetime expected, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{self.name}: naive datetime refused, give a time zone")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def python_value(self, value: str | None) -> datetime | None:
        if value is None:
            return None
        return datetime.fromisoformat(value)


class ScaledDecimalField(IntegerField):
    """A ``Decimal`` with a fixed number of places, stored as a scaled integer.

    SQLite has no decimal type (NUMERIC columns turn into floats); integers of
    cents keep amounts and their sums exact.
    """

    def __init__(self, places: int = 2, *args, **kwargs) -> None:
        self.places = places
        super().__init__(*args, **kwargs)

    def db_value(self, value: Decimal | int | None) -> int | None:
        if value is None:
            return None
        if isinstance(value, float) or isinstance(value, bool):
            raise TypeError(f"{self.name}: Decimal expected, float refused")
        scaled = Decimal(value).scaleb(self.places)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{self.name}: more than {self.places} decimal places: {value}")
        return int(scaled)

    def python_value(self, value: int | None) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.places)
