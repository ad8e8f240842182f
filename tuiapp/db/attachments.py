"""The billing software's own PDFs of the invoices (``InvoicePdf``), as the send and the printing need them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import cast

from tuiapp.db.import_models import InvoicePdf
from tuiapp.domain.errors import TuiappError


class AlteredPdf(TuiappError):
    """An imported PDF whose bytes no longer match the SHA-256 kept with them: never sent nor printed."""

    def __init__(self) -> None:
        super().__init__("PDF importé altéré dans la base (son empreinte ne correspond plus) : importez-le de nouveau.")


def imported_pdf(invoice_id: int) -> bytes | None:
    """The invoice's imported PDF, checked against its stored SHA-256 (``AlteredPdf``), or None:
    a PDF is generated."""
    row = cast(tuple[bytes, str] | None, InvoicePdf.select(InvoicePdf.data, InvoicePdf.sha256)
               .where(InvoicePdf.invoice == invoice_id).tuples().first())  # Peewee's stubs: the model
    if row is None:
        return None
    data, stored = bytes(row[0]), row[1]
    if hashlib.sha256(data).hexdigest() != stored:
        raise AlteredPdf()
    return data


def with_imported_pdf(invoice_ids: Iterable[int]) -> set[int]:
    """Those of these invoices that carry their own PDF."""
    ids, found = list(invoice_ids), set[int]()
    for start in range(0, len(ids), 500):
        query = InvoicePdf.select(InvoicePdf.invoice).where(InvoicePdf.invoice.in_(ids[start: start + 500]))
        found.update(invoice_id for (invoice_id,) in cast(Iterable[tuple[int]], query.tuples()))
    return found
