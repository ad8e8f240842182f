from decimal import Decimal

import pytest

from tuiapp.domain.errors import ValidationError
from tuiapp.domain.periods import Period
from tuiapp.domain.validation import normalize_email, parse_amount, single_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56 €", "1234.56"),
        ("12", "12.00"),
        ("-3,5", "-3.50"),
        ("0", "0.00"),
    ],
)
def test_amount_text(text, expected):
    amount = parse_amount(text)
    assert isinstance(amount, Decimal) and amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2


@pytest.mark.parametrize("text", ["", "abc", "12,345", "1.2.3", "12 34,5", "1,2e3", "NaN", "12,5 $"])
def test_bad_amount_text_is_refused_naming_the_field(text):
    with pytest.raises(ValidationError) as error:
        parse_amount(text, field="amount_ht", label="Montant HT")
    assert error.value.field == "amount_ht"
    assert str(error.value).startswith("Montant HT : ")


def test_amounts_are_never_floats():
    with pytest.raises(ValidationError, match="flottante"):
        parse_amount(12.5)
    with pytest.raises(ValidationError, match="deux décimales"):
        parse_amount(Decimal("1.005"))
    with pytest.raises(ValidationError):
        parse_amount(Decimal("Infinity"))
    assert parse_amount(7) == Decimal("7.00")


def test_email_syntax_only():
    assert normalize_email("  Josiane.Mailly@Example.ORG ", field="email", label="Courriel") == (
        "Josiane.Mailly@example.org"
    )
    assert normalize_email("", field="email", label="Courriel") is None
    assert normalize_email(None, field="email", label="Courriel") is None
    # No DNS look-up: a domain that does not exist is accepted.
    assert normalize_email("a@nxdomain-tuiapp-test.fr", field="email", label="Courriel")


@pytest.mark.parametrize(
    "address", ["josiane", "josiane@", "@example.org", "a b@example.org", "a@example", "a@b.test", "a@x.org\nBcc: b@y.org"]
)
def test_bad_email_is_refused_naming_the_field(address):
    with pytest.raises(ValidationError) as error:
        normalize_email(address, field="guardian_email", label="Courriel du tuteur")
    assert error.value.field == "guardian_email"
    assert str(error.value).startswith("Courriel du tuteur : ")


def test_required_email():
    with pytest.raises(ValidationError, match="obligatoire"):
        normalize_email(" ", field="sender_email", label="Expéditeur", required=True)


def test_single_line_refuses_line_breaks():
    assert single_line("  Foyer  ", field="name", label="Nom") == "Foyer"
    with pytest.raises(ValidationError, match="retour à la ligne"):
        single_line("Facture\r\nBcc: x@y.org", field="subject", label="Objet")
    with pytest.raises(ValidationError, match="obligatoire"):
        single_line("", field="name", label="Nom", required=True)


@pytest.mark.parametrize(("text", "period"), [("2024-09", Period(2024, 9)), ("9/2024", Period(2024, 9)), (" 12/2024 ", Period(2024, 12))])
def test_period_parse(text, period):
    assert Period.parse(text) == period


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "septembre", "2024/09", "1999-01", "", "2024-9-1"])
def test_bad_period_is_refused(text):
    with pytest.raises(ValidationError, match="Période"):
        Period.parse(text)


def test_period_arithmetic_and_order():
    assert Period(2024, 12).next() == Period(2025, 1)
    assert Period(2025, 1).previous() == Period(2024, 12)
    assert Period(2024, 5).previous() == Period(2024, 4)
    assert Period(2024, 9) < Period(2024, 10) < Period(2025, 1)
    assert str(Period(2024, 9)) == "2024-09"


def test_multi_line_keeps_line_feeds_and_tabs_and_refuses_other_controls():
    from tuiapp.domain.validation import multi_line

    text = multi_line("Bonjour,\r\n\tvoici la facture.\n", field="body_template", label="Texte du mail",
                      max_length=100, strip=False)
    assert text == "Bonjour,\n\tvoici la facture.\n"  # Windows line ends become line feeds
    for char in ("\x1b", "\x07", "\x00", "\r", "\u2028", "\u202e"):
        with pytest.raises(ValidationError, match="caractère de contrôle") as error:
            multi_line(f"a{char}b", field="body_template", label="Texte du mail", max_length=100)
        assert str(error.value).startswith("Texte du mail : ")
    with pytest.raises(ValidationError, match="100 caractères au plus"):
        multi_line("x" * 101, field="address", label="Adresse", max_length=100)
