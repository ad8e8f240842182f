from decimal import Decimal

import pytest

from tuiapp.domain.periods import Period
from tuiapp.domain.templates import (
    DEFAULT_BODY,
    DEFAULT_SUBJECT,
    KEYWORDS,
    find_unknown_keywords,
    keyword_values,
    person_name,
    render,
)

SEED_TEXT = "Vous trouverez ci-joint la facture de &personne pour la période de &periode"


@pytest.fixture
def values():
    return keyword_values(
        last_name="Mailly",
        first_name="Josiane",
        period=Period(2024, 9),
        number="FH-202409-007",
        amount=Decimal("1234.56"),
        structure="Foyer Les Tilleuls",
    )


def test_seed_example_renders_exactly(values):
    assert render(SEED_TEXT, values) == (
        "Vous trouverez ci-joint la facture de MAILLY Josiane pour la période de septembre 2024"
    )


def test_default_body_is_the_seed_text():
    assert DEFAULT_BODY == SEED_TEXT


def test_every_keyword(values):
    text = "&personne|&periode|&numero|&montant|&structure"
    assert render(text, values) == (
        "MAILLY Josiane|septembre 2024|FH-202409-007|1\u00a0234,56\u00a0€|Foyer Les Tilleuls"
    )
    assert set(KEYWORDS) == {"personne", "periode", "numero", "montant", "structure", "document"}


def test_document_keyword_says_facture_or_avoir():
    from tuiapp.domain.document_kind import DocumentKind

    common = dict(last_name="Mailly", first_name="Josiane", period=Period(2024, 9), number="AV-1",
                  structure="Foyer")
    invoice = keyword_values(amount=Decimal("10.00"), **common)
    credit = keyword_values(amount=Decimal("-10.00"), kind=DocumentKind.AVOIR, **common)
    text = "&Document n° &numero : votre &document de &periode"
    assert render(text, invoice) == "Facture n° AV-1 : votre facture de septembre 2024"
    assert render(text, credit) == "Avoir n° AV-1 : votre avoir de septembre 2024"
    assert render(DEFAULT_SUBJECT, credit) == "Avoir de contribution septembre 2024 - MAILLY Josiane"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Facture de &personne.", "Facture de MAILLY Josiane."),
        ("(&periode), &numero; &montant!", "(septembre 2024), FH-202409-007; 1\u00a0234,56\u00a0€!"),
        ("&personne&periode", "MAILLY Josianeseptembre 2024"),
        ("&numero &numero", "FH-202409-007 FH-202409-007"),
        ("&periode\n&periode", "septembre 2024\nseptembre 2024"),
        ("«&personne»", "«MAILLY Josiane»"),
        ("&personne-&periode", "MAILLY Josiane-septembre 2024"),
    ],
)
def test_punctuation_repeated_and_adjacent_keywords(values, template, expected):
    assert render(template, values) == expected


@pytest.mark.parametrize(
    "template",
    ["Tom & Jerry", "&", "fin &", "&&", "& personne", "&1234", "R&D", "AT&T", "a && b", "&_x", "x&personnel"],
)
def test_text_without_keywords_is_left_alone(values, template):
    assert render(template, values) == template
    assert find_unknown_keywords(template) == []


def test_lone_ampersand_is_not_a_keyword(values):
    assert find_unknown_keywords("Tom & Jerry, fin &") == []


def test_accented_text_around_keywords(values):
    text = "Chère famille, voici l'échéance de &personne — période « &periode » à régler."
    assert render(text, values) == (
        "Chère famille, voici l'échéance de MAILLY Josiane — période « septembre 2024 » à régler."
    )


def test_case_and_accents_in_keywords_are_forgiven(values):
    assert render("&Période &PERSONNE &Numéro", values) == "septembre 2024 MAILLY Josiane FH-202409-007"
    assert find_unknown_keywords("&Période &PERSONNE &Numéro") == []


def test_keyword_is_a_whole_word(values):
    assert render("&personnel &periodes", values) == "&personnel &periodes"
    unknown = find_unknown_keywords("Le &personnel et &periodes")
    assert [u.word for u in unknown] == ["personnel", "periodes"]


def test_unknown_keyword_positions_and_suggestions():
    text = "Bonjour,\nfacture de &persone pour &mois"
    first, second = find_unknown_keywords(text)
    assert (first.word, first.start, first.end) == ("persone", 20, 28)
    assert text[first.start : first.end] == "&persone"
    assert (first.line, first.column) == (2, 12)
    assert first.suggestion == "personne"
    assert "&persone" in first.message and "&personne" in first.message and "ligne 2" in first.message
    assert second.word == "mois" and second.suggestion is None
    assert (second.line, second.column) == (2, 26)


def test_unknown_keyword_is_left_in_the_output(values):
    assert render("&mois &periode", values) == "&mois septembre 2024"


def test_user_text_is_never_interpreted(values):
    text = "{personne} {0} %(x)s ${periode} {{&numero}} __import__('os')"
    assert render(text, values) == "{personne} {0} %(x)s ${periode} {{FH-202409-007}} __import__('os')"


def test_values_are_not_rescanned():
    # A value that itself contains "&periode" is inserted as it is.
    values = {"personne": "&periode", "periode": "septembre 2024"}
    assert render("&personne", values) == "&periode"


@pytest.mark.parametrize(
    ("last", "first", "expected"),
    [
        ("Mailly", "Josiane", "MAILLY Josiane"),
        ("de la Fontaine", "Éliane", "DE LA FONTAINE Éliane"),
        ("  Lefèvre ", " Loïc ", "LEFÈVRE Loïc"),
        ("N'Diaye", "", "N'DIAYE"),
    ],
)
def test_person_name(last, first, expected):
    assert person_name(last, first) == expected


@pytest.mark.parametrize(
    ("template", "month", "expected"),
    [
        ("la période de &periode", 10, "la période d'octobre 2024"),
        ("la période de &periode", 8, "la période d'août 2024"),
        ("la période de &periode", 4, "la période d'avril 2024"),
        ("la période de &periode", 9, "la période de septembre 2024"),
        ("De &periode", 10, "D'octobre 2024"),
        ("Facture de &personne", 10, "Facture d'ANDRÉ Éric"),
        ("monde &periode", 10, "monde octobre 2024"),  # "de" inside a word is left alone
        ("de  &periode", 10, "de  octobre 2024"),  # only "de" right before the keyword
    ],
)
def test_french_elision_before_a_vowel(template, month, expected):
    values = keyword_values(last_name="André", first_name="Éric", period=Period(2024, month), number="1",
                            amount=Decimal("1"), structure="Foyer")
    assert render(template, values) == expected
