"""A self-contained snapshot of one invoice: what its PDF and e-mail are made of.

Built from the database in one go, then handed to other threads (PDF
rendering, message composition) that never touch the database. Every text
read from the database passes ``printable`` here: a row written around the
validation (a bad import) cannot put terminal codes, NUL or line separators
in a mail or a PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tuiapp.core.periods import Period
from tuiapp.core.safe_text import printable
from tuiapp.core.templates import keyword_values, person_name


def _line(value: str | None) -> str:
    return printable(value or "")


def _lines(value: str | None) -> str:
    return printable(value or "", multiline=True)


def _optional(value: str | None) -> str | None:
    return None if value is None else printable(value)


@dataclass(frozen=True, slots=True)
class InvoiceLineData:
    label: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    invoice_id: int
    number: str
    period: Period
    issue_date: date
    amount_ht: Decimal
    lines: tuple[InvoiceLineData, ...]
    association_name: str
    association_address: str
    structure_code: str
    structure_name: str
    structure_address: str
    sender_email: str | None
    sender_name: str
    reply_to: str | None
    bcc: str | None
    subject_template: str
    body_template: str
    resident_last_name: str
    resident_first_name: str
    guardian_name: str
    recipients: tuple[str, ...]

    @property
    def resident_name(self) -> str:
        return person_name(self.resident_last_name, self.resident_first_name)

    @property
    def keyword_values(self) -> dict[str, str]:
        return keyword_values(
            last_name=self.resident_last_name,
            first_name=self.resident_first_name,
            period=self.period,
            number=self.number,
            amount=self.amount_ht,
            structure=self.structure_name,
        )


def lines_of(invoice_ids) -> dict[int, tuple[InvoiceLineData, ...]]:
    """The lines of many invoices, in one query, in their order."""
    from tuiapp.db.models import InvoiceLine

    lines: dict[int, list[InvoiceLineData]] = {}
    query = (
        InvoiceLine.select(InvoiceLine.invoice, InvoiceLine.label, InvoiceLine.quantity, InvoiceLine.unit_price,
                           InvoiceLine.amount)
        .where(InvoiceLine.invoice.in_(list(invoice_ids)))
        .order_by(InvoiceLine.invoice, InvoiceLine.position, InvoiceLine.id)
    )
    for line in query:
        lines.setdefault(line.invoice_id, []).append(
            InvoiceLineData(_line(line.label), line.quantity, line.unit_price, line.amount)
        )
    return {invoice_id: tuple(rows) for invoice_id, rows in lines.items()}


def document_for(invoice, association, lines: tuple[InvoiceLineData, ...] | None = None) -> InvoiceDocument:
    """Snapshot an ``Invoice`` row (with its resident, structure and lines).

    ``lines``: the invoice's lines when already read (see ``lines_of``).
    """
    resident, structure = invoice.resident, invoice.structure
    if lines is None:
        lines = lines_of([invoice.id]).get(invoice.id, ())
    return InvoiceDocument(
        invoice_id=invoice.id,
        number=_line(invoice.number),
        period=invoice.period,
        issue_date=invoice.issue_date,
        amount_ht=invoice.amount_ht,
        lines=lines,
        association_name=_line(association.name),
        association_address=_lines(association.address),
        structure_code=_line(structure.code),
        structure_name=_line(structure.name),
        structure_address=_lines(structure.address),
        sender_email=_optional(structure.sender_email),
        sender_name=_line(structure.sender_name),
        reply_to=_optional(structure.reply_to),
        bcc=_optional(structure.bcc),
        subject_template=_line(structure.subject_template),
        body_template=_lines(structure.body_template),
        resident_last_name=_line(resident.last_name),
        resident_first_name=_line(resident.first_name),
        guardian_name=_line(resident.guardian_name),
        recipients=tuple(_line(address) for address in resident.recipients),
    )
