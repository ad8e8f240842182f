import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tuiapp.domain.formatting import (
    format_amount,
    format_iban,
    format_long_day,
    format_number,
    format_siret,
    format_timestamp,
    month_name,
    period_label,
)
from tuiapp.domain.periods import Period

FRENCH_MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]


@pytest.mark.parametrize(("month", "name"), enumerate(FRENCH_MONTHS, start=1))
def test_french_month_names(month, name):
    assert month_name(month) == name
    assert period_label(Period(2024, month)) == f"{name} 2024"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("1234.56", "1\u00a0234,56\u00a0€"),
        ("0", "0,00\u00a0€"),
        ("0.5", "0,50\u00a0€"),
        ("999.99", "999,99\u00a0€"),
        ("1234567.80", "1\u00a0234\u00a0567,80\u00a0€"),
        ("-12.5", "-12,50\u00a0€"),
    ],
)
def test_amounts_in_french(amount, text):
    assert format_amount(Decimal(amount)) == text


@pytest.mark.parametrize("first", ["0", "-0"])
def test_equal_amounts_are_each_written_as_babel_writes_them(first):
    """Amounts are formatted once each (a cache): 0 and -0 are equal, yet babel writes -0 with its
    sign, whichever comes first; 1.5 and 1.500 are both shown with cents."""
    from tuiapp.domain.formatting import _euros

    _euros.cache_clear()
    second = "-0" if first == "0" else "0"
    written = {value: format_amount(Decimal(value)) for value in (first, second)}
    assert written == {"0": "0,00\u00a0€", "-0": "-0,00\u00a0€"}
    assert format_amount(Decimal("1.5")) == format_amount(Decimal("1.500")) == "1,50\u00a0€"


def test_amounts_use_no_narrow_space():
    # U+202F is missing from many terminal and PDF fonts.
    assert "\u202f" not in format_amount(Decimal("1234567.89"))


def test_float_amount_is_refused():
    with pytest.raises(TypeError):
        format_amount(1234.56)


def test_numbers_and_times(monkeypatch):
    assert format_number(Decimal("2.50")) == "2,5"
    assert format_number(Decimal("1250")) == "1\u00a0250"
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        assert format_timestamp(datetime(2024, 9, 12, 12, 3, tzinfo=UTC)) == "12/09/2024 14:03"  # summer time
        assert format_timestamp(datetime(2024, 12, 12, 12, 3, tzinfo=UTC)) == "12/12/2024 13:03"
    finally:
        monkeypatch.undo()
        time.tzset()
    assert format_timestamp(None) == ""


def test_a_day_as_a_letter_writes_it():
    assert format_long_day(date(2024, 10, 15)) == "15 octobre 2024"
    assert format_long_day(date(2024, 10, 1)) == "1er octobre 2024"
    assert format_long_day(date(2025, 2, 28)) == "28 février 2025"


def test_identifiers_in_groups():
    assert format_iban("fr7630006000011234567890189") == "FR76 3000 6000 0112 3456 7890 189"
    assert format_iban(" FR76 30006000 0112 3456 7890 189 ") == "FR76 3000 6000 0112 3456 7890 189"
    assert format_iban("") == ""
    assert format_iban(" FR76-3000 ") == "FR76-3000"  # not letters and digits: as typed
    assert format_siret("73282932000074") == format_siret("732 829 320 00074") == "732 829 320 00074"
    assert format_siret(" 7328293200007 ") == "7328293200007"  # not 14 digits: as typed
    assert format_siret("٧٣٢٨٢٩٣٢٠٠٠٠٧٤") == "٧٣٢٨٢٩٣٢٠٠٠٠٧٤"  # digits, but not ASCII ones: as typed


def test_one_display_of_each_identifier():
    """The SIRET and the IBAN are displayed by formatting only (the identifiers module checks them)."""
    import tuiapp.domain.formatting as formatting
    import tuiapp.domain.identifiers as identifiers

    assert not hasattr(identifiers, "format_siret") and not hasattr(identifiers, "format_iban")
    assert not hasattr(formatting, "in_groups")
