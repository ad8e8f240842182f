"""Printing the invoices: one PDF each plus one combined file, in a folder, and that file sent
to a CUPS printer (``lp -d NAME``) when one is set.

An invoice with its own PDF (``tuiapp import pdfs``) is printed from it, the others from a
generated one. Every file is written whole or not at all (``atomic_files``); an invoice that
cannot be printed does not stop the others, and is listed in the result with
the reason, in French; only the invoices actually printed are stamped.

The printer: on the association's server (service mode), the configuration's ``printer``
and ``print_timeout`` (``tuiapp.system_config``); elsewhere, ``$TUIAPP_PRINTER`` and
``$TUIAPP_PRINT_TIMEOUT``. Without one, the operator is told where the files are. A
failure of ``lp`` is said in French with ``lp``'s own words; the files stay in the folder.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from platformdirs import user_documents_path

from tuiapp.db import queries
from tuiapp.db.attachments import AlteredPdf, imported_pdf
from tuiapp.db.database import db
from tuiapp.db.fields import utcnow
from tuiapp.db.models import Association, Invoice, Resident
from tuiapp.db.snapshots import document_for
from tuiapp.domain.errors import TuiappError, ValidationError
from tuiapp.domain.formatting import counted
from tuiapp.domain.periods import Period
from tuiapp.domain.printer import check_printer_name, job_id
from tuiapp.domain.safe_text import printable
from tuiapp.domain.templates import person_name
from tuiapp.locations import SHARED_FILE_MODE, SHARED_FOLDER_MODE
from tuiapp.pdf.invoice import invoice_pdf, pdf_filename
from tuiapp.services.atomic_files import remove_stale_temporaries, write_atomically, write_error_reason
from tuiapp.system_config import SystemConfig

COMBINED_NAME = "toutes.pdf"
PRINTER_ENV = "TUIAPP_PRINTER"
PRINT_TIMEOUT_ENV = "TUIAPP_PRINT_TIMEOUT"
DEFAULT_PRINT_TIMEOUT = 30
#: How much of lp's own message is quoted.
LP_MESSAGE_MAX = 300


class PrinterError(TuiappError):
    """The printer cannot be used or refused the file; the message says why, in French."""


@dataclass(frozen=True)
class Printer:
    """A CUPS printer, and how long ``lp`` may take to answer (seconds)."""

    name: str
    timeout: float = DEFAULT_PRINT_TIMEOUT


def configured_printer(config: SystemConfig | None, environ: Mapping[str, str] = os.environ) -> Printer | None:
    """The printer "Imprimer" sends to: the server's configuration's (``config``, service mode),
    else ``$TUIAPP_PRINTER``; None when none is set. Raises ``PrinterError`` for a wrong value."""
    if config is not None:
        return Printer(config.printer, config.print_timeout) if config.printer else None
    name = environ.get(PRINTER_ENV, "").strip()
    if not name:
        return None
    try:
        name = check_printer_name(name, label=f"${PRINTER_ENV}")
    except ValidationError as problem:
        raise PrinterError(str(problem)) from None
    timeout_text = environ.get(PRINT_TIMEOUT_ENV, "").strip()
    if not timeout_text:
        return Printer(name)
    if not timeout_text.isdecimal() or not 1 <= int(timeout_text) <= 600:
        raise PrinterError(f"${PRINT_TIMEOUT_ENV} : un nombre de secondes entre 1 et 600 est attendu "
                           f"(« {printable(timeout_text)} »).")
    return Printer(name, int(timeout_text))


def send_to_printer(path: Path, printer: Printer) -> str | None:
    """``lp -d NAME FILE``: returns the job CUPS made ("NAME-12"), or None when its answer names none.
    Raises ``PrinterError`` (French, with lp's own message made printable) when lp fails."""
    try:
        done = subprocess.run(["lp", "-d", printer.name, str(path)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=printer.timeout, check=False)
    except FileNotFoundError:
        raise PrinterError("la commande lp est introuvable (CUPS n'est pas installé sur ce poste)") from None
    except subprocess.TimeoutExpired:
        raise PrinterError(f"lp n'a pas répondu en {printer.timeout:g} s") from None
    except OSError as exc:
        raise PrinterError(f"lp n'a pas pu être lancé ({exc.strerror})") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.decode("utf-8", "replace").split()) or " ".join(
            done.stdout.decode("utf-8", "replace").split())
        said = printable(said)
        if len(said) > LP_MESSAGE_MAX:
            said = said[:LP_MESSAGE_MAX] + "…"
        code = f"code {done.returncode}" if done.returncode > 0 else f"signal {-done.returncode}"
        raise PrinterError(f"lp a échoué ({code}) : {said}" if said else f"lp a échoué ({code})")
    return job_id(done.stdout.decode("utf-8", "replace"))


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
    printer: str | None = None  # the printer the combined file was sent to, or tried
    job: str | None = None  # the job CUPS made for it
    printer_error: str | None = None  # why it could not be printed there, in French

    @property
    def sent_to_printer(self) -> bool:
        return self.printer is not None and self.printer_error is None

    @property
    def summary(self) -> str:
        """One sentence for the operator."""
        text = ""
        if self.sent_to_printer:
            job = f" (travail {self.job})" if self.job else ""
            text = f"Envoyé à l'imprimante {self.printer}{job} : {self.combined_name}. Les fichiers restent là : "
        elif self.printer is not None:
            text = (f"Impression impossible sur l'imprimante {self.printer} : {self.printer_error}. "
                    "Les fichiers sont là : ")
        text += f"{len(self.files)} PDF"
        if self.combined is not None:
            text += f" et un fichier complet ({self.combined.name})"
        text += f" dans {self.folder}"
        invoices = [failure for failure in self.failures if failure.what != COMBINED_NAME]
        if invoices:
            text += f" ; {counted(len(invoices), 'facture non imprimée', 'factures non imprimées')}"
        if len(invoices) < len(self.failures):
            text += f" ; {COMBINED_NAME} n'a pas pu être écrit"
        return printable(text + ".")

    @property
    def combined_name(self) -> str:
        return self.combined.name if self.combined is not None else COMBINED_NAME

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
                   shared: bool = False, printer: Printer | None = None) -> PrintResult:
    """Write each invoice's PDF and a combined one; stamp the printed ones as printed; send the
    combined one to ``printer`` when there is one (its failure is in the result, the files stay).
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
    result = PrintResult(folder, files, combined_path, failures, printed)
    if printer is None or not files:
        return result
    if combined_path is None:
        return replace(result, printer=printer.name, printer_error=f"{combined_name} n'a pas pu être écrit")
    try:
        job = send_to_printer(combined_path, printer)
    except PrinterError as problem:
        return replace(result, printer=printer.name, printer_error=str(problem))
    return replace(result, printer=printer.name, job=job)


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
