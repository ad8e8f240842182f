"""The billing software's own PDFs of the invoices (``InvoicePdf``), as the send and the printing need them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from tuiapp.db.models import InvoicePdf


def imported_pdf(invoice_id: int) -> tuple[bytes, str] | None:
    """The invoice's imported PDF and its SHA-256 (hex) as stored, or None: a PDF is generated."""
    row = cast(tuple[bytes, str] | None, InvoicePdf.select(InvoicePdf.data, InvoicePdf.sha256)
               .where(InvoicePdf.invoice == invoice_id).tuples().first())  # Peewee's stubs: the model
    if row is None:
        return None
    data, sha256 = row
    return bytes(data), sha256


def with_imported_pdf(invoice_ids: Iterable[int]) -> set[int]:
    """Those of these invoices that carry their own PDF."""
    ids, found = list(invoice_ids), set[int]()
    for start in range(0, len(ids), 500):
        query = InvoicePdf.select(InvoicePdf.invoice).where(InvoicePdf.invoice.in_(ids[start: start + 500]))
        found.update(invoice_id for (invoice_id,) in cast(Iterable[tuple[int]], query.tuples()))
    return found
