"""Printing the invoices: one PDF each plus one combined file, in a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_documents_path

from tuiapp.core.documents import document_for, lines_of
from tuiapp.core.pdf import invoice_pdf, pdf_filename
from tuiapp.core.periods import Period
from tuiapp.db.database import db
from tuiapp.db.fields import utcnow
from tuiapp.db.models import Association, Invoice, Resident, Structure


@dataclass(frozen=True)
class PrintResult:
    folder: Path
    files: list[Path]
    combined: Path | None


def print_folder(period: Period) -> Path:
    return user_documents_path() / "tuiapp" / f"factures-{period}"


def print_invoices(invoice_ids: list[int], folder: Path, *, combined_name: str = "toutes.pdf") -> PrintResult:
    """Write each invoice's PDF and a combined one; stamp them as printed."""
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    association = Association.get_solo()
    invoices = (
        Invoice.select(Invoice, Resident, Structure).join(Resident).switch(Invoice).join(Structure)
        .where(Invoice.id.in_(invoice_ids))
        .order_by(Resident.last_name.collate("fr"), Resident.first_name.collate("fr"), Invoice.number)
    )
    lines = lines_of(invoice_ids)
    files = []
    combined = pymupdf.open()
    for invoice in invoices:
        doc = document_for(invoice, association, lines.get(invoice.id, ()))
        pdf = invoice_pdf(doc)
        path = folder / pdf_filename(doc)
        path.write_bytes(pdf)
        files.append(path)
        with pymupdf.open(stream=pdf, filetype="pdf") as single:
            combined.insert_pdf(single)
    combined_path = None
    if files:
        combined_path = folder / combined_name
        combined.save(combined_path, garbage=3, deflate=True)
    combined.close()
    with db.atomic():
        Invoice.update(last_printed_at=utcnow()).where(Invoice.id.in_(invoice_ids)).execute()
    return PrintResult(folder, files, combined_path)
