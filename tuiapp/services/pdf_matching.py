"""Which invoice a PDF of the billing software belongs to: its number in the file's name, or an index file.

A number matches a name when it appears in it as a whole: bounded by the name's ends or
by characters that are neither letters nor digits (``FH-2024-001`` is in
``Facture FH-2024-001 DUPONT.pdf``, not in ``FH-2024-0011.pdf``), ignoring case. A ``/``
cannot be in a file name: ``FH/2024/001`` is also found as ``FH-2024-001`` or ``FH_2024_001``.
When one number found lies inside another found in the same place (``2024-001`` inside
``FH-2024-001``), the longer one is meant.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from tuiapp.services.import_files import Table
from tuiapp.services.import_mapping import fields_for, fold_header

#: A name's tokens: runs of letters and digits; a number starts and ends on one's edges.
_TOKEN = re.compile(r"[^\W_]+")
#: Beyond this many tokens, a name is searched for numbers of at most that many tokens.
_MAX_SPAN = 24


def folded(text: str) -> str:
    """How a number and a name are compared: NFC (a Mac writes names decomposed), no case."""
    return unicodedata.normalize("NFC", text).casefold()


def spellings(number: str) -> set[str]:
    """The ways a number can be written in a file name (NFC, case kept)."""
    base = unicodedata.normalize("NFC", number)
    return {base, base.replace("/", "-"), base.replace("/", "_")} if "/" in base else {base}


def _edges_alnum(text: str) -> bool:
    return bool(text) and text[0].isalnum() and text[-1].isalnum()


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    invoice_id: int


class NumberIndex:
    """Every invoice number, ready to be found in file names.

    Numbers that start and end with a letter or digit (nearly all) are looked up by the
    name's spans between token edges (a dictionary, fast for 300,000 invoices); the few others by a
    regular expression each. Case is ignored, unless two numbers differ by case only
    (``FH-1`` and ``fh-1``): then the name's own case tells them apart."""

    def __init__(self, numbers: Iterable[tuple[int, str]]) -> None:
        #: folded spelling -> {invoice id: its spellings, case kept}
        self.by_spelling: dict[str, dict[int, set[str]]] = {}
        self.odd: list[tuple[re.Pattern[str], int]] = []
        for invoice_id, number in numbers:
            exact = spellings(number)
            for spelling in exact:
                if _edges_alnum(spelling):
                    self.by_spelling.setdefault(spelling.casefold(), {})[invoice_id] = exact
                elif spelling.strip():
                    pattern = re.compile(rf"(?<![^\W_]){re.escape(spelling)}(?![^\W_])", re.IGNORECASE)
                    self.odd.append((pattern, invoice_id))

    def find(self, stem: str) -> set[int]:
        """The invoices whose number is in ``stem`` (a file's name without ``.pdf``) as a whole."""
        return self.matches(stem)[0]

    def matches(self, stem: str) -> tuple[set[int], set[int]]:
        """The invoices found in ``stem``, and those left aside as doubtful: a number of digits only
        (``28``) among other numbers of the name (``Facture 1500 du 28-10-2024``) may be a day, a
        quantity or another invoice's number; an index file names such a file."""
        name = unicodedata.normalize("NFC", stem)
        tokens = [(match.start(), match.end()) for match in _TOKEN.finditer(name)]
        found: list[_Found] = []
        for first, (start, _) in enumerate(tokens):
            for _, end in tokens[first: first + _MAX_SPAN]:
                text = name[start:end]
                candidates = self.by_spelling.get(text.casefold(), {})
                found.extend(_Found(start, end, i) for i in _by_case(text, candidates))
        for pattern, invoice_id in self.odd:
            found.extend(_Found(match.start(), match.end(), invoice_id) for match in pattern.finditer(name))
        kept = [item for item in found
                if not any(other.start <= item.start and item.end <= other.end and other.end - other.start
                           > item.end - item.start for other in found)]
        digits = [(start, end) for start, end in tokens if name[start:end].isdigit()]
        sure, doubtful = set(), set()
        for item in kept:
            alone = not any((end <= item.start or start >= item.end) for start, end in digits)
            if name[item.start:item.end].isdigit() and not alone:
                doubtful.add(item.invoice_id)
            else:
                sure.add(item.invoice_id)
        return sure, doubtful - sure


def _by_case(text: str, candidates: dict[int, set[str]]) -> Iterable[int]:
    """Several numbers spelled the same but for case: those spelled exactly as ``text``, if any."""
    if len(candidates) > 1:
        exact = [invoice_id for invoice_id, written in candidates.items() if text in written]
        if exact:
            return exact
    return candidates


# -- the index file -----------------------------------------------------------------

def _folded_headers(*headers: str) -> frozenset[str]:
    return frozenset(fold_header(header) for header in headers)


#: The index's columns, folded as the imports fold every header (``import_mapping.fold_header``):
#: the invoice number as the invoices' import knows it, or a credit note's or a document's.
_NUMBER_HEADERS = _folded_headers(*next(item.synonyms for item in fields_for("invoices") if item.name == "number"),
                                  "numéro", "n° fact", "n° avoir", "n° document", "number", "invoice no")
_FILE_HEADERS = _folded_headers("fichier", "fichier pdf", "nom du fichier", "nom fichier", "pdf", "file",
                                "file name", "chemin", "path")


def index_columns(table: Table) -> tuple[int | None, int | None]:
    """The columns of the invoice number and of the file name, matched loosely (case, accents,
    punctuation: « N° facture », « numero_facture », « Fichier PDF »); None when missing."""
    keys = [fold_header(header) for header in table.headers]
    number = next((i for i, key in enumerate(keys) if key in _NUMBER_HEADERS), None)
    file = next((i for i, key in enumerate(keys) if key in _FILE_HEADERS and i != number), None)
    return number, file
