"""Texts the sending tab shows: the exact message of an invoice, the invoices to print."""

from __future__ import annotations

from tuiapp.mail.compose import CompositionError, compose, envelope_recipients
from tuiapp.db.snapshots import document_for
from tuiapp.domain.formatting import departed_mark
from tuiapp.domain.periods import Period
from tuiapp.pdf.invoice import pdf_filename
from tuiapp.db import queries
from tuiapp.db.models import Association, Invoice, Resident, Structure


def preview_text(invoice_id: int) -> str:
    """From, To, Subject, body and attachment name, exactly as they will be sent."""
    invoice = (
        Invoice.select(Invoice, Resident, Structure).join(Resident).switch(Invoice).join(Structure)
        .where(Invoice.id == invoice_id).get()
    )
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
    lines += [f"Objet : {message['Subject']}", "", message.get_body(("plain",)).get_content().rstrip(), "",
              f"Pièce jointe : {pdf_filename(doc)}"]
    return "\n".join(lines)


def left_out_text(period: Period, structure=None) -> str:
    """The period's invoices that cannot be mailed (no address): to be printed."""
    lines = [
        f"{invoice.number}  {invoice.resident.display_name}{departed_mark(invoice.resident.active)} : "
        "aucune adresse e-mail"
        for invoice in queries.invoices_without_address(period, structure)
    ]
    return "\n".join(lines) or "Toutes les factures de la période ont une adresse e-mail."
