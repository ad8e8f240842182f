"""The cells of one row of an invoices file, read: resident, period, date, kind, total, line.

Each value is parsed by the domain's own functions (``Period.parse``, ``parse_day``,
``parse_amount``) and a line by ``InvoiceLine.clean()``; what cannot be read becomes a
``Problem`` of the row's line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tuiapp.db.models import InvoiceLine
from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.formatting import format_amount, format_number
from tuiapp.domain.periods import Period
from tuiapp.domain.validation import CENT, parse_amount, parse_day
from tuiapp.services.import_files import Row
from tuiapp.services.import_mapping import LINE_FIELDS, fold_header
from tuiapp.services.import_report import Problem
from tuiapp.services.import_rows import Cells, problem, problems_of

_KINDS = {
    DocumentKind.FACTURE: {"", "facture", "fa", "f", "fac", "fact", "invoice", "inv"},
    DocumentKind.AVOIR: {"avoir", "av", "a", "creditnote", "credit", "notecredit", "nc", "cn"},
}
_KIND_OF = {word: kind for kind, words in _KINDS.items() for word in words}
#: InvoiceLine's fields and the file's.
_LINE_COLUMNS = {"label": "line_label", "quantity": "line_quantity", "unit_price": "line_unit_price",
                 "amount": "line_amount"}


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(slots=True)
class ReadRow:
    """One row's values (None: the cell is empty, or was refused: see ``problems``)."""

    row: Row
    resident: str | None = None  # the billing software's resident ID
    period: Period | None = None
    issue_date: date | None = None
    kind: DocumentKind | None = None
    total: Decimal | None = None
    line: Line | None = None
    problems: list[Problem] = field(default_factory=list)


def read_period(text: str) -> Period:
    """A period, or a day of it (a spreadsheet turns ``09/2024`` into a date)."""
    try:
        return Period.parse(text)
    except ValidationError:
        try:
            return Period.of(parse_day(text))
        except ValidationError:
            pass
        raise


def read_kind(text: str) -> DocumentKind:
    kind = _KIND_OF.get(fold_header(text))
    if kind is None:
        raise ValidationError("kind", "Type de document", "facture ou avoir attendu (ou AV pour un avoir).")
    return kind


class RowReader:
    def __init__(self, cells: Cells, residents: dict[str, tuple[int, int]]) -> None:
        self.cells = cells
        self.residents = residents
        self.with_lines = any(cells.has(name) for name in LINE_FIELDS)

    def read(self, row: Row, *, first: bool) -> ReadRow:
        """``first``: the invoice's first row, where the invoice's cells are required (the next
        rows of its lines may leave them empty)."""
        read = ReadRow(row)
        cells = self.cells
        resident = cells.get(row, "resident").strip()
        if resident:
            if resident in self.residents:
                read.resident = resident
            else:
                self._refuse(read, "resident", "résident inconnu : aucun résident n'a ce n° "
                                               "(importez d'abord les résidents).")
        elif first:
            self._refuse(read, "resident", "ce champ est obligatoire.")
        read.period = self._parse(read, "period", read_period, first)
        read.issue_date = self._parse(read, "issue_date", parse_day, first)
        if cells.get(row, "kind").strip() or first:
            read.kind = self._parse(read, "kind", read_kind, False)
        if cells.get(row, "amount_ht").strip():
            read.total = self._parse(read, "amount_ht", parse_amount, False)
        if self.with_lines and any(cells.get(row, name).strip() for name in LINE_FIELDS):
            read.line = self._line(read)
        return read

    def _refuse(self, read: ReadRow, name: str, reason: str) -> None:
        read.problems.append(problem(read.row.line, self.cells.header(name), self.cells.get(read.row, name), reason))

    def _parse(self, read: ReadRow, name: str, parse, required: bool):
        text = self.cells.get(read.row, name)
        if not text.strip() and name != "kind":
            if required:
                self._refuse(read, name, "ce champ est obligatoire.")
            return None
        try:
            return parse(text)
        except ValidationError as error:
            self._refuse(read, name, error.message)
            return None

    def _line(self, read: ReadRow) -> Line | None:
        texts = {model: self.cells.get(read.row, column).strip() for model, column in _LINE_COLUMNS.items()}
        where = {model: (self.cells.header(column), self.cells.get(read.row, column))
                 for model, column in _LINE_COLUMNS.items()}
        line = InvoiceLine(label=texts["label"], quantity=texts["quantity"] or "1",
                           unit_price=texts["unit_price"] or "0", amount=texts["amount"] or "0")
        try:
            line.clean(offline=True)
        except ValidationError as error:
            read.problems.extend(problems_of(error, read.row.line, where))
            return None
        quantity, unit_price, amount = line.quantity, line.unit_price, line.amount
        column = "amount" if self.cells.has("line_amount") else "unit_price"
        if not texts["unit_price"] and not texts["amount"]:
            read.problems.append(problem(read.row.line, *where[column], "montant de la ligne ou prix unitaire "
                                                                        "attendu."))
            return None
        if texts["unit_price"]:
            product = (quantity * unit_price).quantize(CENT, ROUND_HALF_UP)  # commercial rounding: 0,625 -> 0,63
            if not texts["amount"]:
                try:
                    amount = parse_amount(product, field="amount", label="Montant de la ligne")
                except ValidationError as error:
                    read.problems.append(problem(read.row.line, *where[column], error.message))
                    return None
            elif amount != product:
                read.problems.append(problem(
                    read.row.line, *where["amount"],
                    f"ne correspond pas à quantité × prix unitaire ({format_number(quantity)} × "
                    f"{format_amount(unit_price)} = {format_amount(product)})."))
                return None
        elif quantity:
            unit_price = (amount / quantity).quantize(CENT, ROUND_HALF_UP)
        elif amount:
            read.problems.append(problem(read.row.line, *where["quantity"], "quantité nulle pour un montant "
                                                                            "non nul."))
            return None
        return Line(line.label, quantity, unit_price, amount)
