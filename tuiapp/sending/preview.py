"""Texts shown before a send: the exact message of an invoice, an outline of each, the invoices to print."""

from __future__ import annotations

from collections.abc import Iterator

from tuiapp.db import queries
from tuiapp.db.attachments import with_imported_pdf
from tuiapp.db.models import Association, Invoice
from tuiapp.db.snapshots import document_for, lines_of
from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.formatting import departed_mark
from tuiapp.domain.periods import Period
from tuiapp.domain.templates import render
from tuiapp.mail.compose import CompositionError, compose, envelope_recipients
from tuiapp.pdf.invoice import pdf_filename


def preview_text(invoice_id: int) -> str:
    """From, To, Subject, body and attachment name, exactly as they will be sent."""
    invoice = queries.invoices_with_people().where(Invoice.id == invoice_id).get()
    doc = document_for(invoice, Association.get_solo())
    try:
        message = compose(doc, b"", pdf_filename(doc))
    except CompositionError as exc:
        return f"Ce message ne peut pas être envoyé : {exc}"
    lines = [f"De : {message['From']}", f"À : {message['To']}"]
    copies = [address for address in envelope_recipients(doc) if address not in doc.recipients]
    if copies:
        lines.append(f"Cci : {', '.join(copies)}")
    if message["Reply-To"]:
        lines.append(f"Réponse à : {message['Reply-To']}")
    body = message.get_body(("plain",))
    assert body is not None  # compose always writes a text/plain part
    lines += [f"Objet : {message['Subject']}", "", body.get_content().rstrip(), "",
              f"Pièce jointe : {pdf_filename(doc)} ({pdf_origin(bool(with_imported_pdf([invoice_id])))})"]
    return "\n".join(lines)


def pdf_origin(imported: bool) -> str:
    """Whether the invoice carries its own PDF (``tuiapp import pdfs``) or gets a generated one."""
    return "PDF importé" if imported else "PDF généré"


def left_out_text(period: Period, structure=None) -> str:
    """The period's invoices that cannot be mailed (no address): to be printed."""
    lines = [
        f"{invoice.number}  {invoice.resident.display_name}{departed_mark(invoice.resident.active)} : "
        "aucune adresse e-mail"
        for invoice in queries.invoices_without_address(period, structure)
    ]
    return "\n".join(lines) or "Toutes les factures de la période ont une adresse e-mail."


def outlines(invoice_ids: list[int]) -> Iterator[list[str]]:
    """For each invoice, in the order given: its number and resident, then who gets it, the
    subject and the attachment's name (``tuiapp send --dry-run``)."""
    association = Association.get_solo()
    invoices = {
        invoice.id: invoice
        for invoice in queries.invoices_with_people().where(Invoice.id.in_(invoice_ids))
    }
    lines = lines_of(invoice_ids)
    imported = with_imported_pdf(invoice_ids)
    for invoice_id in invoice_ids:
        invoice = invoices[invoice_id]
        doc = document_for(invoice, association, lines.get(invoice_id, ()))
        credit_note = "  (avoir)" if doc.kind is DocumentKind.AVOIR else ""
        yield [
            f"{doc.number}  {doc.resident_name}{departed_mark(invoice.resident.active)}{credit_note}",
            f"    À       : {', '.join(envelope_recipients(doc))}",
            f"    Objet   : {render(doc.subject_template, doc.keyword_values)}",
            f"    Fichier : {pdf_filename(doc)} ({pdf_origin(invoice_id in imported)})",
        ]
