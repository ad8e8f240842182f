"""An invoice's message as it goes on the wire: its imported PDF, or one generated from its snapshot.

The sending layer reads the imported PDF (``tuiapp.db.attachments``); ``mail`` and ``pdf`` never
touch the database. The attachment's name is ``pdf_filename`` either way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tuiapp.db.attachments import AlteredPdf, imported_pdf
from tuiapp.domain.documents import InvoiceDocument
from tuiapp.mail.compose import CompositionError, invoice_message_bytes
from tuiapp.pdf.invoice import invoice_pdf, pdf_filename


@dataclass(frozen=True, slots=True)
class BuiltMessage:
    """A message as it goes on the wire, and the SHA-256 (hex) of the PDF it carries."""

    data: bytes
    pdf_sha256: str


def attachment_for(doc: InvoiceDocument) -> bytes:
    """The invoice's PDF: its imported one when it has one (checked against its stored hash),
    else one generated from the snapshot."""
    try:
        imported = imported_pdf(doc.invoice_id)
    except AlteredPdf as exc:
        raise CompositionError(str(exc)) from None
    return invoice_pdf(doc) if imported is None else imported


def build_message(doc: InvoiceDocument, message_id: str) -> BuiltMessage:
    """The invoice's message, PDF attached, as it goes on the wire; ``CompositionError`` (French) if it cannot be."""
    try:
        pdf = attachment_for(doc)
        data = invoice_message_bytes(doc, pdf, pdf_filename(doc), message_id=message_id)
    except CompositionError:
        raise
    except Exception as exc:  # a PDF that cannot be rendered fails this invoice only
        raise CompositionError(f"PDF impossible à produire ({type(exc).__name__}).") from exc
    return BuiltMessage(data, hashlib.sha256(pdf).hexdigest())
