"""Snapshots of invoices (``InvoiceDocument``), read from the database in one go.

Every text read from the database passes ``printable`` here: a row written
around the validation (a bad import) cannot put terminal codes, NUL or line
separators in a mail or a PDF.
"""

from __future__ import annotations

from tuiapp.db.models import InvoiceLine
from tuiapp.domain.documents import InvoiceDocument, InvoiceLineData
from tuiapp.domain.safe_text import printable


def _line(value: str | None) -> str:
    return printable(value or "")


def _lines(value: str | None) -> str:
    return printable(value or "", multiline=True)


def _optional(value: str | None) -> str | None:
    return None if value is None else printable(value)



def lines_of(invoice_ids) -> dict[int, tuple[InvoiceLineData, ...]]:
    """The lines of many invoices, in one query, in their order."""
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
        kind=invoice.document_kind,
        association_siret=_line(association.siret),
        association_phone=_line(association.phone),
        association_email=_line(association.email),
        association_website=_line(association.website),
        association_iban=_line(association.iban),
        association_bic=_line(association.bic),
        cheque_payee=_line(association.cheque_payee),
        payment_days=association.payment_days,
        structure_finess=_line(structure.finess),
        vat_statement=_line(structure.vat_statement),
        billing_contact=_lines(structure.billing_contact),
        resident_address=_lines(resident.address),
        guardian_relation=_line(resident.guardian_relation),
        guardian_address=_lines(resident.guardian_address),
        direct_debit=bool(resident.direct_debit),
    )
