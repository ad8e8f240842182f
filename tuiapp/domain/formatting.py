"""French display formats (months, amounts, times), computed with babel.

Display happens at the edge: values stay ``Decimal``, ``Period`` and aware
``datetime`` everywhere else.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from tuiapp.domain.periods import Period

if TYPE_CHECKING:
    from babel import Locale

# babel is imported where it formats, not with this module: the models import this module, and
# babel's modules (with zoneinfo and sysconfig, 7 to 10 ms) are not needed to draw the home screen.
# Every French month, amount and plural still comes from babel.

LOCALE = "fr_FR"
NBSP = "\u00a0"
# babel's French group separator is U+202F (narrow no-break space). Many
# terminal and PDF fonts lack it, so it is shown as an ordinary no-break space.
_NARROW_NBSP = "\u202f"


def _plain_spaces(text: str) -> str:
    return text.replace(_NARROW_NBSP, NBSP)


def month_name(month: int) -> str:
    """French month name, lower case as French writes it: ``septembre``."""
    from babel.dates import format_date

    return format_date(date(2000, month, 1), "MMMM", locale=LOCALE)


def period_label(period: Period) -> str:
    """``septembre 2024``."""
    from babel.dates import format_date

    return format_date(period.first_day, "MMMM y", locale=LOCALE)


def format_amount(amount: Decimal) -> str:
    """``1 234,56 €`` (no-break spaces)."""
    if not isinstance(amount, Decimal):
        raise TypeError("amounts are Decimal, never float")
    if amount.is_snan():  # (cannot be hashed)
        return _euros.__wrapped__(amount, True)
    return _euros(amount, amount.is_signed())


# babel takes 130 us an amount: a list of 2,000 invoices spent 0.26 s on them. Amounts repeat (the
# same monthly rates), and 1.5 equals 1.50 here as in the cache: both are shown with two decimals.
# 0 equals -0 too, but babel writes "-0,00 €": the sign is part of the key.
@functools.lru_cache(maxsize=4096)
def _euros(amount: Decimal, signed: bool) -> str:
    from babel.numbers import format_currency

    return _plain_spaces(format_currency(amount, "EUR", locale=LOCALE))


def format_number(value: Decimal) -> str:
    """A quantity in French notation: ``30``, ``2,5``, ``1 250``."""
    from babel.numbers import format_decimal

    return _plain_spaces(format_decimal(value, locale=LOCALE))


def format_timestamp(moment: datetime | None) -> str:
    """Local date and time, ``12/09/2024 14:03``; empty for ``None``."""
    if moment is None:
        return ""
    return moment.astimezone().strftime("%d/%m/%Y %H:%M")


def format_epoch(seconds: float | None) -> str:
    """``format_timestamp`` of a moment in seconds since the epoch (a token's end); "?" for ``None``."""
    if seconds is None:
        return "?"
    return format_timestamp(datetime.fromtimestamp(seconds).astimezone())


def format_day(day: date | None) -> str:
    return "" if day is None else day.strftime("%d/%m/%Y")


#: How a resident who has left is marked where their invoices are listed for mailing.
DEPARTED = "sorti(e)"


def departed_mark(active: bool) -> str:
    """``", sorti(e)"`` after the name of a resident who has left, else nothing."""
    return "" if active else f", {DEPARTED}"


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min 03 s``, ``2 h 05 min``."""
    total = int(max(seconds, 0) + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def format_long_day(day: date) -> str:
    """A date as a letter writes it: ``15 octobre 2024``, ``1er octobre 2024``."""
    from babel.dates import format_date

    first = day.day == 1  # (before babel, whose check of the type is an assert)
    text = format_date(day, "d MMMM y", locale=LOCALE)
    return f"1er{text[1:]}" if first else text


def format_iban(iban: str) -> str:
    """An IBAN as it is printed and read aloud, by groups of four: ``FR76 3000 6000 0112 3456 7890
    189`` (its spaces, whatever they were, redone; upper case). Anything but ASCII letters and
    digits is kept as it was typed. The one IBAN display: the PDF and the Association form."""
    compact = "".join(iban.split()).upper()
    if not (compact.isascii() and compact.isalnum()):
        return iban.strip()
    return " ".join(compact[start:start + 4] for start in range(0, len(compact), 4))


def format_siret(siret: str) -> str:
    """A SIRET as INSEE prints it, ``732 829 320 00074`` (the SIREN by three, then the NIC);
    anything that is not 14 ASCII digits is kept as it was typed. The one SIRET display."""
    compact = "".join(siret.split())
    if len(compact) != 14 or not (compact.isascii() and compact.isdigit()):
        return siret.strip()
    return f"{compact[:3]} {compact[3:6]} {compact[6:9]} {compact[9:]}"

@functools.cache
def _french() -> Locale:
    from babel import Locale

    return Locale.parse(LOCALE)


def plural(count: int, singular: str, plural_form: str) -> str:
    """The French form for ``count`` (CLDR's rule, through babel: 0 and 1 take the singular):
    ``plural(1, "facture", "factures")`` is ``facture``."""
    return singular if _french().plural_form(abs(count)) == "one" else plural_form


def counted(count: int, singular: str, plural_form: str) -> str:
    """``1 facture``, ``88 factures``."""
    return f"{count} {plural(count, singular, plural_form)}"


def format_wait(seconds: float) -> str:
    """A wait as an operator reads it: rounded up, never « 0 s » (``0.3`` is ``1 s``)."""
    return format_duration(max(math.ceil(seconds), 1))
