"""Keyword templates for the subject and body of invoice e-mails.

A template is plain text in which ``&personne``, ``&periode``, ``&numero``,
``&montant`` and ``&structure`` are replaced by the invoice's values. A keyword
is a whole word: ``&personnel`` is the unknown keyword ``personnel``, not
``&personne`` followed by ``l``. Case and accents are forgiven (``&Période`` is
``&periode``). Anything else, a lone ``&`` included, is left as typed. An
unknown ``&word`` glued to the word before it (``R&D``, ``AT&T``) is ordinary
text, not a mistyped keyword, and is not reported.

User text is only ever scanned with one regular expression and substituted
piecewise: it never reaches ``str.format``, ``eval`` or a template engine.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.formatting import format_amount, period_label
from tuiapp.domain.periods import Period

#: Keyword -> what it stands for, in the order the Mail tab lists them.
KEYWORDS: dict[str, str] = {
    "personne": "nom du résident (ex. MAILLY Josiane)",
    "periode": "période de la facture (ex. septembre 2024)",
    "numero": "numéro de la facture",
    "montant": "montant HT de la facture (ex. 1 234,56 €)",
    "structure": "nom de la structure",
    "document": "facture ou avoir, selon le document (&Document : Facture, Avoir)",
}

#: The seed's example text, the default body of a new structure.
DEFAULT_BODY = "Vous trouverez ci-joint la facture de &personne pour la période de &periode"
DEFAULT_SUBJECT = "&Document de contribution &periode - &personne"
#: Keywords whose value takes a capital when the keyword is typed with one (a common noun).
_FOLLOWS_CASE = frozenset({"document"})

# "&" then a word that starts with a letter; \w is Unicode-aware, so accented
# letters belong to the word and "&période," stops before the comma.
_KEYWORD = re.compile(r"&([^\W\d_]\w*)")
# "de " just before a keyword, as a word of its own: it becomes "d'" before a vowel.
_ELIDABLE = re.compile(r"(?:^|(?<=[\s(«\"']))([dD]e) $")


def _canonical(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True, slots=True)
class UnknownKeyword:
    """An ``&word`` that is not a keyword, with where it stands in the text."""

    word: str
    start: int  # offset of the "&" in the text
    end: int
    line: int  # 1-based
    column: int  # 1-based
    suggestion: str | None

    @property
    def message(self) -> str:
        text = f"mot-clé inconnu « &{self.word} » (ligne {self.line}, colonne {self.column})"
        if self.suggestion:
            text += f" : vouliez-vous dire « &{self.suggestion} » ?"
        return text


def find_unknown_keywords(template: str) -> list[UnknownKeyword]:
    """Every ``&word`` of the template that is not a known keyword, in order."""
    unknown = []
    for match in _KEYWORD.finditer(template):
        word = match.group(1)
        canonical = _canonical(word)
        if canonical in KEYWORDS:
            continue
        if match.start() > 0 and template[match.start() - 1].isalnum():
            continue  # "R&D": an abbreviation, not a keyword
        line = template.count("\n", 0, match.start()) + 1
        column = match.start() - (template.rfind("\n", 0, match.start()) + 1) + 1
        close = difflib.get_close_matches(canonical, KEYWORDS, n=1, cutoff=0.75)
        unknown.append(
            UnknownKeyword(word, match.start(), match.end(), line, column, close[0] if close else None)
        )
    return unknown


def _starts_with_vowel(text: str) -> bool:
    return bool(text) and _canonical(text[0]) in "aeiouy"


def render(template: str, values: Mapping[str, str]) -> str:
    """Replace the known keywords by ``values``; leave everything else as typed.

    French elision is applied where a value starts with a vowel: "la période de
    &periode" gives "la période d'octobre 2024", and "facture de &personne"
    gives "facture d'ANDRÉ Éric".
    """
    parts: list[str] = []
    position = 0
    for match in _KEYWORD.finditer(template):
        key = _canonical(match.group(1))
        value = values.get(key)
        if value is None:
            continue
        if key in _FOLLOWS_CASE and match.group(1)[0].isupper():  # "&Document" heads a sentence: "Avoir"
            value = value[:1].upper() + value[1:]
        before = template[position : match.start()]
        if _starts_with_vowel(value) and (elided := _ELIDABLE.search(before)):
            before = before[: elided.start(1)] + elided.group(1)[0] + "'"
        parts += [before, value]
        position = match.end()
    parts.append(template[position:])
    return "".join(parts)


def person_name(last_name: str, first_name: str) -> str:
    """``MAILLY Josiane``: the last name in capitals, then the first name."""
    return " ".join(part for part in (last_name.strip().upper(), first_name.strip()) if part)


def keyword_values(
    *,
    last_name: str,
    first_name: str,
    period: Period,
    number: str,
    amount: Decimal,
    structure: str,
    kind: DocumentKind = DocumentKind.FACTURE,
) -> dict[str, str]:
    """The value of each keyword for one invoice (or credit note)."""
    return {
        "personne": person_name(last_name, first_name),
        "periode": period_label(period),
        "numero": number,
        "montant": format_amount(amount),
        "structure": structure,
        "document": kind.word,
    }


def values_for_invoice(invoice) -> dict[str, str]:
    """Keyword values for an ``Invoice`` row (its resident and structure loaded)."""
    return keyword_values(
        last_name=invoice.resident.last_name,
        first_name=invoice.resident.first_name,
        period=invoice.period,
        number=invoice.number,
        amount=invoice.amount_ht,
        structure=invoice.structure.name,
        kind=DocumentKind.of(invoice.kind),
    )


def sample_values(structure_name: str = "") -> dict[str, str]:
    """Keyword values for the Mail tab's preview: the seed's example resident."""
    return keyword_values(
        last_name="Mailly",
        first_name="Josiane",
        period=Period(2024, 9),
        number="FH-202409-001",
        amount=Decimal("1234.56"),
        structure=structure_name or "Votre structure",
    )
