"""Printing the invoices: one PDF each plus one combined file, in a folder.

An invoice with its own PDF (``tuiapp import pdfs``) is printed from it, the others from a
generated one. Every file is written whole or not at all (``atomic_files``); an invoice that
cannot be printed does not stop the others, and is listed in the result with
the reason, in French; only the invoices actually printed are stamped.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_documents_path

from tuiapp.db import queries
from tuiapp.db.attachments import AlteredPdf, imported_pdf
from tuiapp.db.database import db
from tuiapp.db.fields import utcnow
from tuiapp.db.models import Association, Invoice, Resident
from tuiapp.db.snapshots import document_for
from tuiapp.domain.periods import Period
from tuiapp.domain.safe_text import printable
from tuiapp.domain.templates import person_name
from tuiapp.locations import SHARED_FILE_MODE, SHARED_FOLDER_MODE
from tuiapp.pdf.invoice import invoice_pdf, pdf_filename
from tuiapp.services.atomic_files import remove_stale_temporaries, write_atomically, write_error_reason

COMBINED_NAME = "toutes.pdf"


@dataclass(frozen=True)
class PrintFailure:
    """An invoice (or the combined file) that could not be printed, and why, in French."""

    what: str  # "FH-202409-001 DUPONT Jean", or "toutes.pdf"
    reason: str

    def __str__(self) -> str:
        return printable(f"{self.what} : {self.reason}")


@dataclass(frozen=True)
class PrintResult:
    folder: Path
    files: list[Path]
    combined: Path | None
    failures: list[PrintFailure] = field(default_factory=list)
    printed_ids: list[int] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One sentence for the operator."""
        text = f"{len(self.files)} PDF"
        if self.combined is not None:
            text += f" et un fichier complet ({self.combined.name})"
        text += f" dans {self.folder}"
        invoices = [failure for failure in self.failures if failure.what != COMBINED_NAME]
        if invoices:
            text += f" ; {len(invoices)} facture(s) non imprimée(s)"
        if len(invoices) < len(self.failures):
            text += f" ; {COMBINED_NAME} n'a pas pu être écrit"
        return printable(text + ".")

    @property
    def failures_text(self) -> str:
        return "\n".join(str(failure) for failure in self.failures)


def print_folder(period: Period, shared: Path | None = None) -> Path:
    """Where a period's invoices are printed: in the user's documents, or, on the association's
    server, in the shared print folder of the configuration (``shared``), never in a home."""
    return (shared if shared is not None else user_documents_path() / "tuiapp") / f"factures-{period}"


def failure_reason(exc: BaseException) -> str:
    """Why a file could not be written or a PDF made, in French (never the exception's own text)."""
    if isinstance(exc, OSError):
        return write_error_reason(exc)
    if isinstance(exc, AlteredPdf):
        return str(exc).removesuffix(".")
    return f"PDF impossible à produire ({type(exc).__name__})"


def print_invoices(invoice_ids: list[int], folder: Path, *, combined_name: str = COMBINED_NAME,
                   shared: bool = False) -> PrintResult:
    """Write each invoice's PDF and a combined one; stamp the printed ones as printed.
    ``shared``: the folder is the group's (``rwxrws---``) and so is each file (``rw-rw----``),
    whatever the umask: never readable by everyone.

    Raises ``OSError`` only when the folder itself cannot be made.
    """
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    mode = SHARED_FILE_MODE if shared else None
    if shared:
        os.chmod(folder, SHARED_FOLDER_MODE | stat.S_ISGID)
    remove_stale_temporaries(folder)
    association = Association.get_solo()
    files: list[Path] = []
    failures: list[PrintFailure] = []
    printed: list[int] = []
    used_names: set[str] = {combined_name.casefold()}
    combined = pymupdf.open()
    # Only the ids and names first: a row the database cannot convert fails alone, below.
    for invoice_id, number, last_name, first_name in _ordered(invoice_ids):
        try:
            doc = document_for(_invoice(invoice_id), association)
            imported = imported_pdf(invoice_id)  # the billing software's own, when imported (hash checked)
            pdf = imported if imported is not None else invoice_pdf(doc)
            name = _unique_name(doc, used_names)
            first_page = combined.page_count
            with pymupdf.open(stream=pdf, filetype="pdf") as single:
                combined.insert_pdf(single)
            try:
                write_atomically(folder / name, pdf, mode=mode)
            except BaseException:
                if combined.page_count > first_page:
                    combined.delete_pages(from_page=first_page, to_page=combined.page_count - 1)
                raise
        except Exception as exc:  # this invoice only: the others are still printed
            failures.append(PrintFailure(f"{number} {person_name(last_name, first_name)}", failure_reason(exc)))
            continue
        used_names.add(name.casefold())
        files.append(folder / name)
        printed.append(invoice_id)
    combined_path = None
    if files:
        try:
            write_atomically(folder / combined_name, combined.tobytes(garbage=3, deflate=True), mode=mode)
            combined_path = folder / combined_name
        except Exception as exc:
            failures.append(PrintFailure(combined_name, failure_reason(exc)))
    combined.close()
    if printed:
        with db.atomic():
            Invoice.update(last_printed_at=utcnow()).where(Invoice.id.in_(printed)).execute()
    return PrintResult(folder, files, combined_path, failures, printed)


def _ordered(invoice_ids: list[int]):
    """(id, number, last name, first name) of the invoices, in the order they are printed."""
    return (
        queries.invoices_with_people()
        .select(Invoice.id, Invoice.number, Resident.last_name, Resident.first_name)
        .where(Invoice.id.in_(invoice_ids))
        .order_by(*queries.BY_RESIDENT_NAME)
        .tuples()
    )


def _invoice(invoice_id: int) -> Invoice:
    return queries.invoices_with_people().where(Invoice.id == invoice_id).get()


def _unique_name(doc, used: set[str]) -> str:
    """The invoice's file name, with ``_2``, ``_3`` ... when another file of this print has it.

    Compared without case: the folder may be on a file system that ignores it.
    """
    name, count = pdf_filename(doc), 1
    while name.casefold() in used:
        count += 1
        name = pdf_filename(doc, suffix=str(count))
    return name
