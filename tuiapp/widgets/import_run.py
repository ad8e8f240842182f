"""The Import screen's work off the event loop, and the French texts of its outcome.

``ImportRunner`` reads the file and runs the importers in thread workers; the
workers touch no widget: they post ``FileRead``, ``RunProgress`` and
``RunEnded`` to the screen, which decides. A run is a ``RunRequest``: a check
(the importer's dry run), a check that asks before importing, or the import.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from tuiapp.domain.errors import TuiappError
from tuiapp.domain.formatting import counted, plural
from tuiapp.services.import_files import Table, read_table
from tuiapp.services.import_mapping import fields_for
from tuiapp.services.import_report import WARNING_PREFIX, ImportResult
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_message
from tuiapp.widgets.plain import field_text

#: Problems listed on the screen, at most (the CLI's --report writes them all).
PROBLEMS_SHOWN = 500
#: How often the progress bar moves, at most (seconds).
PROGRESS_SECONDS = 0.1
#: How a separator is shown and typed (a Tab cannot be typed in a field: Tab moves on).
SEPARATORS = {"\t": "tab", ";": ";", ",": ",", "|": "|"}
#: (what, new, changed, unchanged), agreed with the kind's noun: each (singular, plural).
_COUNTED = {"invoices": (("facture", "factures"), ("nouvelle", "nouvelles"), ("modifiée", "modifiées"),
                         ("inchangée", "inchangées")),
            "residents": (("résident", "résidents"), ("nouveau", "nouveaux"), ("modifié", "modifiés"),
                          ("inchangé", "inchangés")),
            "pdfs": (("PDF", "PDF"), ("nouveau", "nouveaux"), ("remplacé", "remplacés"), ("inchangé", "inchangés"))}


@dataclass(frozen=True)
class RunRequest:
    kind: str  # "invoices" | "residents" | "pdfs"
    path: Path
    options: dict[str, str | None]  # read_table's overrides
    update_mailed: bool = False
    write: bool = False  # False: the importer's dry run
    ask: bool = False  # a check whose success asks to import
    table: Table | None = field(default=None, repr=False)
    mapping: dict[str, int] = field(default_factory=dict)

    def with_table(self, table: Table, mapping: dict[str, int]) -> RunRequest:
        return replace(self, table=table, mapping=dict(mapping))

    def asking(self) -> RunRequest:
        return replace(self, ask=True)

    def writing(self) -> RunRequest:
        """The import itself, of the very table and mapping that were checked and confirmed."""
        return replace(self, write=True, ask=False)


class FileRead(Message, bubble=False):
    """The file was read (``table``), or could not be (``error``, French); ``then``: the run
    asked for once it is read."""

    def __init__(self, table: Table | None, error: str = "", then: RunRequest | None = None) -> None:
        super().__init__()
        self.table, self.error, self.then = table, error, then


class RunProgress(Message, bubble=False):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total


class RunEnded(Message, bubble=False):
    """A check or an import is over: ``result``, or why it could not run (``error``, French)."""

    def __init__(self, request: RunRequest, result: ImportResult | None, error: str = "") -> None:
        super().__init__()
        self.request, self.result, self.error = request, result, error


class ImportRunner:
    """Runs the Import screen's reading and importing in thread workers, one at a time."""

    GROUP = "import"

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self._worker: Worker | None = None
        self._writing = False

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    @property
    def writing(self) -> bool:
        return self.busy and self._writing

    def _start(self, work: Callable[[], None], name: str, *, writing: bool = False) -> None:
        self._writing = writing
        self._worker = self.screen.run_worker(work, name=name, group=self.GROUP, thread=True, exclusive=not writing,
                                              exit_on_error=False)

    def read(self, path: Path, options: dict[str, str | None], then: RunRequest | None = None) -> None:
        self._start(lambda: self._read(path, options, then), "read")

    def start(self, request: RunRequest) -> None:
        """Run ``request``: a table's file read again first (it may have been fixed since), the
        request then run on what was read; a folder of PDFs at once."""
        if request.kind == "pdfs":
            self.run(request)
        else:
            self.read(request.path, request.options, request)

    def run(self, request: RunRequest) -> None:
        self._start(lambda: self._run(request), "import" if request.write else "check", writing=request.write)

    # -- in the worker's thread: only post_message --------------------------------------

    def _post_unless_replaced(self, message: Message) -> None:
        """A reading or a check that another one replaced (``exclusive``) says nothing: the screen
        shows the latest file. (An import is never replaced: the screen refuses to start
        anything while one runs.)"""
        if not get_current_worker().is_cancelled:
            self.screen.post_message(message)

    def _read(self, path: Path, options: dict[str, str | None], then: RunRequest | None) -> None:
        try:
            table = read_table(path, **options)
        except TuiappError as exc:
            self._post_unless_replaced(FileRead(None, str(exc)))
        except Exception as exc:  # never a crash for a file: said, the screen stays
            self._post_unless_replaced(FileRead(None, f"« {path} » ne peut pas être lu ({type(exc).__name__})."))
        else:
            self._post_unless_replaced(FileRead(table, then=then))

    def _run(self, request: RunRequest) -> None:
        last = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_SECONDS or done >= total:
                last = now
                self.screen.post_message(RunProgress(done, total))

        result, error = None, ""
        try:
            result = _import(request, progress)
        except DATABASE_ERRORS as exc:
            error = ("Rien n'a été écrit. " if request.write else "") + database_message(self.screen, exc)
        except TuiappError as exc:
            error = str(exc)
        except Exception as exc:  # never a crash: said in French, the screen stays
            error = f"L'import n'a pas pu se faire ({type(exc).__name__}) ; rien n'a été écrit."
        if request.write:
            self.screen.post_message(RunEnded(request, result, error))
        else:
            self._post_unless_replaced(RunEnded(request, result, error))


def _import(request: RunRequest, progress: Callable[[int, int], None]) -> ImportResult:
    if request.kind == "pdfs":
        from tuiapp.services.import_pdfs import import_pdfs

        return import_pdfs(request.path, dry_run=not request.write, update_mailed=request.update_mailed,
                           progress=progress)
    assert request.table is not None
    if request.kind == "invoices":
        from tuiapp.services.import_invoices import import_invoices

        return import_invoices(request.table, request.mapping, dry_run=not request.write,
                               update_mailed=request.update_mailed, progress=progress)
    from tuiapp.services.import_residents import import_residents

    return import_residents(request.table, request.mapping, dry_run=not request.write, progress=progress)


# -- the French texts ---------------------------------------------------------------------


def separator_shown(delimiter: str | None) -> str:
    return SEPARATORS.get(delimiter or "", delimiter or "")


def reading_override(name: str, typed: str) -> str | None:
    """What an override field of the reading says (``encoding``, ``delimiter``, ``sheet``): None
    to detect it again; ``ValueError`` with a French message when it cannot be used."""
    value = typed.strip()
    if name == "encoding" and value:
        try:
            value = codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"Encodage inconnu : « {value} » (ex. utf-8, cp1252, latin-1).") from None
    if name == "delimiter":
        value = {shown: real for real, shown in SEPARATORS.items()}.get(value.lower(), value)
        if len(value) > 1:
            raise ValueError("Le séparateur est un seul caractère (; , | ou tab).")
    return value or None


def required_missing(kind: str, mapping: dict[str, int]) -> list[str]:
    """The labels of the required fields that no column feeds."""
    return [item.label for item in fields_for(kind) if item.required and item.name not in mapping]


def _counts(kind: str, result: ImportResult) -> str:
    _, new, changed, same = _COUNTED[kind]
    return f"{counted(result.created, *new)}, {counted(result.updated, *changed)}, {counted(result.unchanged, *same)}"


def _checked(result: ImportResult) -> str:
    """A check's verdict when nothing blocks the import: the warnings, if any, counted."""
    warnings = sum(note.startswith(WARNING_PREFIX) for note in result.notes)
    if not warnings:
        return "rien à redire"
    return f"{counted(warnings, 'avertissement', 'avertissements')}, rien de bloquant"


def _mailed(request: RunRequest, result: ImportResult) -> list[str]:
    if not result.mailed_changed:
        return []
    numbers = ", ".join(field_text(number) for number in result.mailed_changed[:20])
    count = len(result.mailed_changed)
    more = f" et {counted(count - 20, 'autre', 'autres')}" if count > 20 else ""
    lines = [f"{counted(count, 'facture déjà envoyée', 'factures déjà envoyées')} que l'import modifie : "
             f"{numbers}{more}."]
    marked = plural(count, "elle sera marquée rectifiée", "elles seront marquées rectifiées")
    if request.update_mailed:
        lines.append(f"{marked.capitalize()} et à envoyer de nouveau.")
    else:
        accept = plural(count, "l'accepter", "les accepter")
        lines.append(f"Cochez « Mettre à jour les factures déjà envoyées » pour {accept} : {marked} et à envoyer "
                     "de nouveau.")
    return lines


def report_text(request: RunRequest, result: ImportResult) -> str:
    """The outcome as the screen's report shows it: the verdict, the counts, then each problem."""
    name = field_text(request.path.name)
    if request.write:
        if result.written:
            head = f"Import de « {name} » terminé : {_counts(request.kind, result)}."
        elif result.refused:
            head = f"Import de « {name} » refusé : rien n'a été écrit."
        else:
            head = f"Import de « {name} » : rien à changer, la base est déjà à jour."
    elif result.refused:
        head = (f"Vérification de « {name} » : {counted(len(result.problems), 'problème', 'problèmes')}, "
                "l'import serait refusé. Rien n'a été écrit.")
    else:
        head = (f"Vérification de « {name} » : {_checked(result)}, {_counts(request.kind, result)}. "
                "Rien n'a été écrit.")
    lines = [head, *_mailed(request, result), *(field_text(note) for note in result.notes)]  # a PDF check's files
    if result.problems:
        lines.append("")
        if any(problem.line == 0 for problem in result.problems):  # the columns themselves
            lines.append("Pour désigner une colonne : Entrée sur sa colonne dans l'aperçu.")
        lines.extend(str(problem) for problem in result.problems[:PROBLEMS_SHOWN])
        if len(result.problems) > PROBLEMS_SHOWN:
            lines.append(f"… et {counted(len(result.problems) - PROBLEMS_SHOWN, 'autre problème', 'autres problèmes')} "
                         "(tous : tuiapp import … --report FICHIER.csv).")
    return "\n".join(lines)


def confirmation(request: RunRequest, result: ImportResult) -> str:
    """The question asked before an import that its check found right."""
    (_, what), new, changed, same = _COUNTED[request.kind]
    question = (f"Importer « {field_text(request.path.name)} » ? {what.capitalize()} : "
                f"{counted(result.created, *new)}, {counted(result.updated, *changed)} "
                f"({counted(result.unchanged, *same)}). Tout est écrit en une fois.")
    if result.mailed_changed:
        marked = counted(len(result.mailed_changed), "facture déjà envoyée sera marquée rectifiée",
                         "factures déjà envoyées seront marquées rectifiées")
        question += f" {marked} et à envoyer de nouveau."
    return question
