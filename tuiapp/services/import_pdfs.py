"""``tuiapp import pdfs FOLDER``: the billing software's own PDFs, attached to their invoices.

Each ``*.pdf`` of the folder (not its sub-folders; links and anything but a regular file are
left aside, with a note) goes to the invoice whose number is in its name as a whole
(``tuiapp.services.pdf_matching``), or that an index file names beside it (columns
« n° facture » and « fichier »). Each must be a PDF that PyMuPDF opens, with a page, of at
most 10 MB. A file matching two invoices, or an invoice matched by two files, is a problem.

All or nothing, like the other imports: any problem and nothing is written. A PDF is
replaced only when its bytes differ (SHA-256); for an invoice already mailed that needs
``update_mailed``: the invoice is then *rectifiée* and to be sent again (its send records
keep what each version carried); never for an invoice queued, being sent or whose last send is
*unknown* (``import_guard``). The bytes live in the database (``InvoicePdf``); the
send and the printing use them instead of a generated PDF.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from peewee import JOIN

from tuiapp.db.database import db, write_transaction
from tuiapp.db.fields import utcnow
from tuiapp.db.import_models import InvoicePdf
from tuiapp.db.models import Invoice, Resident
from tuiapp.domain.formatting import counted, format_timestamp, period_label
from tuiapp.domain.periods import Period
from tuiapp.domain.safe_text import printable
from tuiapp.domain.templates import person_name
from tuiapp.services.import_files import ImportFileError, read_table
from tuiapp.services.import_guard import send_blocks
from tuiapp.services.import_report import ImportResult, Problem
from tuiapp.services.pdf_matching import NumberIndex, folded, index_columns

MAX_PDF_BYTES = 10 * 1024 * 1024
NEW, REPLACED, UNCHANGED = "nouveau", "remplacé", "inchangé"
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class Attachment:
    """What becomes of one invoice's PDF: ``change`` is NEW, REPLACED or UNCHANGED."""

    number: str
    file_name: str
    change: str
    mailed: bool = False  # the invoice was mailed already: it becomes rectifiée


@dataclass
class PdfImportResult(ImportResult):
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class _Source:
    """A file of the folder and where its invoice was named: by its name (line 0) or an index line."""

    path: Path
    name: str  # as shown and stored: printable
    invoice_ids: set[int] = field(default_factory=set)
    line: int = 0
    column: str = ""
    sha256: str = ""
    doubtful: bool = False  # its name holds an invoice's number among other numbers: said apart

    def problem(self, reason: str) -> Problem:
        return Problem(self.line, self.column, self.name, reason)


class _FileChanged(Exception):
    """A file changed between its check and its writing: the transaction is rolled back."""


def shown_name(name: str) -> str:
    """A file name as it is shown and stored: undecodable bytes and control characters as U+FFFD."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return printable(text)[:255]


def import_pdfs(folder: Path | str, *, index: Path | str | None = None, dry_run: bool = False,
                update_mailed: bool = False, progress: Callable[[int, int], None] | None = None) -> PdfImportResult:
    """Attach the folder's PDFs to their invoices (see the module). ``ImportFileError`` when the
    folder or the index cannot be read at all; every other problem is in the result.
    ``progress(done, total)``: called as the matched files are checked (from this thread)."""
    folder = Path(folder)
    result = PdfImportResult("pdfs", dry_run=dry_run)
    files = _pdf_files(folder, result)
    numbers = dict(_rows(Invoice.select(Invoice.id, Invoice.number)))
    sources: dict[str, _Source] = {}
    if index is not None:
        _from_index(Path(index), files, numbers, sources, result)
    finder = NumberIndex(numbers.items())
    for name, path in files.items():
        if name not in sources:
            sure, doubtful = finder.matches(name[: -len(".pdf")])
            sources[name] = _Source(path, shown_name(name), sure, doubtful=bool(doubtful and not sure))
            if sources[name].doubtful:
                found = ", ".join(sorted(numbers[i] for i in doubtful))
                result.notes.append(f"Fichier « {shown_name(name)} » ignoré : le n° {found} y est parmi d'autres "
                                    "nombres (une date ?) ; donnez son fichier dans un index pour l'y joindre.")
    chosen = _one_to_one(sources, numbers, result)
    for done, source in enumerate(chosen.values(), 1):
        reason = _check(source)
        if reason:
            result.problems.append(source.problem(reason))
        if progress is not None:
            progress(done, len(chosen))
    if result.problems:
        return result
    try:
        _apply(chosen, numbers, result, update_mailed=update_mailed)
    except _FileChanged as exc:
        result.problems.append(exc.args[0])
        result.written = False
    return result


def _pdf_files(folder: Path, result: ImportResult) -> dict[str, Path]:
    """The folder's ``*.pdf`` regular files, by name (links and the rest noted and left aside)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except FileNotFoundError:
        raise ImportFileError(f"Dossier introuvable : « {shown_name(str(folder))} ».") from None
    except NotADirectoryError:
        raise ImportFileError(f"« {shown_name(str(folder))} » n'est pas un dossier.") from None
    except OSError as exc:
        raise ImportFileError(f"Dossier « {shown_name(str(folder))} » illisible "
                              f"({exc.strerror or type(exc).__name__}).") from None
    files = {}
    for entry in entries:
        if not entry.name.lower().endswith(".pdf"):
            continue
        if entry.is_symlink():
            result.notes.append(f"Fichier « {shown_name(entry.name)} » ignoré : c'est un lien symbolique.")
        elif not entry.is_file(follow_symlinks=False):
            result.notes.append(f"Fichier « {shown_name(entry.name)} » ignoré : ce n'est pas un fichier ordinaire.")
        else:
            files[entry.name] = Path(entry.path)
    return files


def _from_index(index: Path, files: dict[str, Path], numbers: dict[int, str], sources: dict[str, _Source],
                result: ImportResult) -> None:
    """The files the index names, with their invoice (problems for what it names wrong)."""
    table = read_table(index)
    number_column, file_column = index_columns(table)
    if number_column is None or file_column is None:
        result.problems.append(Problem(0, "", " ; ".join(table.headers),
                                       "colonnes « n° facture » et « fichier » attendues dans le fichier d'index."))
        return
    by_number: dict[str, set[int]] = {}
    exactly = {number: invoice_id for invoice_id, number in numbers.items()}
    for invoice_id, number in numbers.items():
        by_number.setdefault(folded(number), set()).add(invoice_id)
    by_folded_name = {folded(name): name for name in files}
    number_header, file_header = table.headers[number_column], table.headers[file_column]
    for row in table.rows:
        number, wanted = table.cell(row, number_column).strip(), table.cell(row, file_column).strip()
        if not number and not wanted:
            continue
        if not number:
            result.problems.append(Problem(row.line, number_header, "", "numéro de facture manquant."))
            continue
        if not wanted:
            result.problems.append(Problem(row.line, file_header, "", "nom de fichier manquant."))
            continue
        ids = {exactly[number]} if number in exactly else by_number.get(folded(number))
        if not ids:
            result.problems.append(Problem(row.line, number_header, number, "aucune facture n'a ce numéro."))
            continue
        if "/" in wanted or "\\" in wanted or wanted in (".", ".."):
            result.problems.append(Problem(row.line, file_header, wanted,
                                           "le nom d'un fichier du dossier est attendu, sans chemin."))
            continue
        name = next((found for candidate in (wanted, wanted + ".pdf") if
                     (found := candidate if candidate in files else by_folded_name.get(folded(candidate)))), None)
        if name is None:
            result.problems.append(Problem(row.line, file_header, wanted,
                                           "aucun fichier PDF ordinaire de ce nom dans le dossier."))
            continue
        source = sources.setdefault(name, _Source(files[name], shown_name(name), line=row.line, column=file_header))
        source.invoice_ids |= ids


def _one_to_one(sources: dict[str, _Source], numbers: dict[int, str], result: ImportResult) -> dict[int, _Source]:
    """Each invoice with its one file; a file for several invoices, or several files for one, are problems."""
    by_invoice: dict[int, list[_Source]] = {}
    for source in sources.values():
        if not source.invoice_ids:
            if not source.doubtful:
                result.notes.append(f"Fichier « {source.name} » ignoré : aucune facture ne correspond.")
        elif len(source.invoice_ids) > 1:
            found = ", ".join(sorted(numbers[i] for i in source.invoice_ids))
            result.problems.append(source.problem(f"correspond à plusieurs factures ({found})."))
        else:
            by_invoice.setdefault(next(iter(source.invoice_ids)), []).append(source)
    chosen: dict[int, _Source] = {}
    for invoice_id, files in by_invoice.items():
        if len(files) > 1:
            others = ", ".join(source.name for source in files)
            for source in files:
                result.problems.append(source.problem(
                    f"la facture {numbers[invoice_id]} a plusieurs fichiers ({others})."))
        else:
            chosen[invoice_id] = files[0]
    return chosen


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f}".replace(".", ",") + " Mo"


def _read(source: _Source) -> bytes | str:
    """The file's bytes, or why they cannot be used (French). Its size is checked before it is read."""
    try:
        fd = os.open(source.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return f"fichier illisible ({exc.strerror or type(exc).__name__})."
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "ce n'est pas un fichier ordinaire."
        if info.st_size > MAX_PDF_BYTES:
            return f"fichier trop gros ({_size(info.st_size)}) : 10 Mo au plus."
        try:
            data = file.read(MAX_PDF_BYTES + 1)
        except OSError as exc:
            return f"fichier illisible ({exc.strerror or type(exc).__name__})."
    if len(data) > MAX_PDF_BYTES:
        return f"fichier trop gros (plus de {_size(MAX_PDF_BYTES)}) : 10 Mo au plus."
    return data


def pdf_problem(data: bytes) -> str | None:
    """Why these bytes are not a PDF that can be sent (French), or None."""
    import pymupdf

    shown = pymupdf.TOOLS.mupdf_display_errors()
    pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's own messages never reach the terminal
    try:
        with pymupdf.open(stream=data, filetype="pdf") as document:
            if not document.is_pdf:
                return "ce n'est pas un PDF."
            if document.needs_pass:
                return "PDF protégé par un mot de passe."
            if document.page_count < 1:
                return "PDF sans aucune page."
    except Exception:  # PyMuPDF's errors on a damaged or foreign file
        return "ce n'est pas un PDF lisible (PyMuPDF ne l'ouvre pas)."
    finally:
        pymupdf.TOOLS.mupdf_display_errors(shown)
    return None


def _check(source: _Source) -> str | None:
    """Read and check the file; its hash kept in ``source``. Returns the problem's reason, or None."""
    data = _read(source)
    if isinstance(data, str):
        return data
    reason = pdf_problem(data)
    source.sha256 = hashlib.sha256(data).hexdigest()
    return reason


def _rows(query) -> Iterable[tuple[Any, ...]]:
    """The query's rows as tuples (Peewee's stubs type ``.tuples()`` as the model)."""
    return cast(Iterable[tuple[Any, ...]], query.tuples())


def _chunks(ids: list[int]):
    for start in range(0, len(ids), _CHUNK):
        yield ids[start: start + _CHUNK]


def _apply(chosen: dict[int, _Source], numbers: dict[int, str], result: PdfImportResult, *,
           update_mailed: bool) -> None:
    """Compare with what is attached, under the write lock, then write it all in one transaction
    (unless a dry run, or a problem: an invoice already mailed that would change without
    ``update_mailed``, or one waiting to be sent or being sent)."""
    with db.atomic() if result.dry_run else write_transaction():
        ids = sorted(chosen, key=lambda invoice_id: numbers[invoice_id])
        invoices: dict[int, Invoice] = {}
        existing: dict[int, str] = {}
        for part in _chunks(ids):
            invoices.update((invoice.id, invoice) for invoice in Invoice.select(
                Invoice.id, Invoice.number, Invoice.last_mailed_at, Invoice.period_year, Invoice.period_month,
            ).where(Invoice.id.in_(part)))
            existing.update(_rows(InvoicePdf.select(InvoicePdf.invoice, InvoicePdf.sha256)
                                  .where(InvoicePdf.invoice.in_(part))))
        blocked = send_blocks(ids)  # queued, being sent, or sent with an unknown outcome
        changed = [invoice_id for invoice_id in ids if _compare(invoices.get(invoice_id), chosen[invoice_id],
                                                               existing.get(invoice_id), blocked.get(invoice_id),
                                                               result, update_mailed=update_mailed)]
        _note_left_without(invoices.values(), set(ids), result)
        _note_attached(result)
        if result.dry_run or result.problems:
            return
        now = utcnow()
        for invoice_id in changed:
            _write(invoice_id, chosen[invoice_id], now, mailed=invoices[invoice_id].last_mailed_at is not None)
        result.written = bool(changed)


def _compare(invoice: Invoice | None, source: _Source, before: str | None, blocked: str | None,
             result: PdfImportResult, *, update_mailed: bool) -> bool:
    """What becomes of one invoice's PDF (counted, listed; problems added); True when it is to be written."""
    if invoice is None:
        result.problems.append(source.problem("sa facture a été supprimée pendant l'import."))
        return False
    change = UNCHANGED if before == source.sha256 else REPLACED if before else NEW
    mailed = change != UNCHANGED and invoice.last_mailed_at is not None
    result.attachments.append(Attachment(invoice.number, source.name, change, mailed))
    if change == UNCHANGED:
        result.unchanged += 1
        return False
    result.created += change == NEW
    result.updated += change == REPLACED
    if blocked:
        result.problems.append(source.problem(f"la facture {invoice.number} {blocked}"))
    elif mailed:
        result.mailed_changed.append(invoice.number)
        if not update_mailed:
            result.problems.append(source.problem(
                f"la facture {invoice.number} a déjà été envoyée ({format_timestamp(invoice.last_mailed_at)}) "
                "et son PDF changerait : elle n'est rectifiée (et à renvoyer) que sur demande."))
    return True


def _write(invoice_id: int, source: _Source, now, *, mailed: bool) -> None:
    data = _read(source)
    if isinstance(data, str) or hashlib.sha256(data).hexdigest() != source.sha256:
        raise _FileChanged(source.problem("le fichier a changé pendant l'import : rien n'a été enregistré."))
    values = dict(sha256=source.sha256, data=data, file_name=source.name, imported_at=now)
    if not InvoicePdf.update(**values).where(InvoicePdf.invoice == invoice_id).execute():
        InvoicePdf.insert(invoice=invoice_id, **values).execute()
    if mailed:  # what was sent is no longer the invoice: rectified, to be sent again
        Invoice.update(rectified_at=now, last_mailed_at=None).where(Invoice.id == invoice_id).execute()


def _note_attached(result: PdfImportResult) -> None:
    """First among the notes (the CLI and the Import screen show them): on a dry run, what would be
    attached. (The invoices rectified, or that would be, are ``mailed_changed``: each interface says
    them its own way, as for the invoices' import.)"""
    if result.problems or not result.dry_run:
        return
    first = []
    for attachment in result.attachments:
        mailed = " ; déjà envoyée : elle serait rectifiée" if attachment.mailed else ""
        first.append(f"Facture {attachment.number} : « {attachment.file_name} » ({attachment.change}{mailed}).")
    result.notes[:0] = first


#: Invoices named per period in the note of those left without a PDF (``send --dry-run`` lists all).
LEFT_LISTED = 10


def _note_left_without(invoices, attached: set[int], result: ImportResult) -> None:
    """The invoices of the periods concerned that still have no PDF of their own (none before,
    none in ``attached``)."""
    periods = sorted({(invoice.period_year, invoice.period_month) for invoice in invoices})
    if not periods:
        return
    where = None
    for year, month in periods:
        clause = (Invoice.period_year == year) & (Invoice.period_month == month)
        where = clause if where is None else where | clause
    query = (Invoice.select(Invoice.id, Invoice.number, Invoice.period_year, Invoice.period_month,
                            Resident.last_name, Resident.first_name)
             .join(Resident)
             .join_from(Invoice, InvoicePdf, JOIN.LEFT_OUTER, on=(InvoicePdf.invoice == Invoice.id))
             .where(where & InvoicePdf.id.is_null())
             .order_by(Invoice.period_year, Invoice.period_month, Invoice.number))
    left: dict[tuple[int, int], list[str]] = {}
    for invoice_id, number, year, month, last_name, first_name in _rows(query):
        if invoice_id not in attached:
            left.setdefault((year, month), []).append(f"{number} ({person_name(last_name, first_name)})")
    for (year, month), shown in left.items():  # a line per period, not one per invoice (130 a month)
        more = f" et {counted(len(shown) - LEFT_LISTED, 'autre', 'autres')}" if len(shown) > LEFT_LISTED else ""
        result.notes.append(f"{period_label(Period(year, month)).capitalize()} : {counted(len(shown), 'document', 'documents')} sans PDF "
                            f"importé, un PDF sera généré : {', '.join(shown[:LEFT_LISTED])}{more}.")
