"""Import: residents, invoices or PDFs from the billing software's exports, checked before anything is written.

The operator picks what the file holds and its path (completed from this
machine's files, → accepts), sees how it was read (format, encoding,
separator or sheet; each can be overridden), the first rows under the column
mapping (which can be changed column by column, and saved as a profile), then
checks it (Ctrl+T: the importer's dry run, every problem listed) and imports
it (Ctrl+S: checked again, confirmed, then written in one transaction, with
progress). A folder of PDFs has no table: its check lists which file would
go to which invoice. The services do the work (``tuiapp.services.import_*``); they run
in thread workers that only post messages (``tuiapp.widgets.import_run``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Header, Input, Label, ProgressBar, Select, Static

from tuiapp.domain.formatting import counted
from tuiapp.domain.roles import Action
from tuiapp.services.import_mapping import (
    KIND_WORDS,
    ImportUsageError,
    explicit_mapping,
    guess_mapping,
    load_profile,
    profile_names,
    save_profile,
)
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_problem, reports_database_errors
from tuiapp.widgets.dialogs import TextPromptScreen
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.form import FIELD_KEYS, ConfirmScreen, FormInput
from tuiapp.widgets.import_run import (
    FileRead,
    ImportRunner,
    RunEnded,
    RunProgress,
    RunRequest,
    confirmation,
    reading_override,
    report_text,
    required_missing,
    separator_shown,
)
from tuiapp.widgets.mapping_preview import MappingPreview
from tuiapp.widgets.path_input import NO_CONTROL, PathInput
from tuiapp.widgets.plain import field_text, options, plain
from tuiapp.widgets.rights import refuse, refused_action

if TYPE_CHECKING:
    from tuiapp.app import TuiApp
    from tuiapp.services.import_files import Table

KINDS = (("Factures", "invoices"), ("Résidents", "residents"), ("PDF (dossier)", "pdfs"))
#: The files offered by the path's completion (folders always are).
FILE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")
PLACEHOLDERS = {"pdfs": "dossier des PDF du logiciel (→ complète, Entrée vérifie)"}
PLACEHOLDER = "chemin du CSV ou XLSX (→ complète, Entrée lit)"
PDF_HINT = ("Chaque PDF du dossier va à la facture dont le numéro est dans son nom. "
            "Ctrl+T liste ce qui serait joint ; Ctrl+S le joint, après confirmation.")
HINT = "Ctrl+T vérifie le fichier sans rien écrire ; Ctrl+S le vérifie puis l'importe, après confirmation."
_RIGHTS = {"import_file": Action.IMPORT, "save_profile": Action.IMPORT}


class ImportScreen(Screen[None]):
    """One file (or folder) at a time: read, previewed, mapped, checked, then imported."""

    CSS_PATH = "imports.tcss"
    AUTO_FOCUS = "#path"
    BINDINGS = [
        *FIELD_KEYS,
        Binding("ctrl+t", "verify", "Vérifier", id="import.verify"),
        Binding("ctrl+s", "import_file", "Importer", id="import.run"),
        Binding("ctrl+r", "read", "Relire", id="import.read"),
        Binding("f4", "save_profile", "Profil", id="import.profile", tooltip="Enregistrer la correspondance"),
        Binding("escape", "back", "Retour", id="import.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.kind = KINDS[0][1]
        self.table: Table | None = None
        self.mapping: dict[str, int] = {}
        self.overrides: dict[str, str | None] = {}
        self.runner = ImportRunner(self)
        self.profiles = profile_names(self.kind)  # read here: a database error stops the opening, not compose

    # -- layout -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Importer les exports du logiciel de facturation", classes="screen-title")
        with Horizontal(classes="import-row"):
            yield Label("Données", classes="import-label")
            yield Select(KINDS, value=self.kind, allow_blank=False, compact=True, id="kind")
            yield Label("Profil", id="profile-label")
            yield Select(options((name, name) for name in self.profiles), prompt="(aucun profil)", compact=True,
                         id="profile")
        with Horizontal(classes="import-row"):
            yield Label("Fichier", classes="import-label")
            yield PathInput(placeholder=PLACEHOLDER, suffixes=FILE_SUFFIXES,
                            id="path", classes="field-input")
        with Horizontal(classes="import-row", id="reading"):
            yield Static("", id="format")
            yield Label("Encodage", classes="csv-only")
            yield FormInput(id="encoding", restrict=NO_CONTROL, classes="field-input csv-only")
            yield Label("Séparateur", classes="csv-only")
            yield FormInput(id="delimiter", restrict=NO_CONTROL, classes="field-input csv-only")
            yield Label("Feuille", classes="xlsx-only")
            yield FormInput(id="sheet", restrict=NO_CONTROL, classes="field-input xlsx-only")
        yield Static("Aucun fichier lu.", id="file-state")
        yield MappingPreview(id="mapping")
        with Horizontal(classes="import-row"):
            yield Checkbox("Mettre à jour les factures déjà envoyées", id="update-mailed", compact=True)
            yield ProgressBar(id="progress", show_eta=False)
        with VerticalScroll(id="report-box"):
            yield Static(HINT, id="report")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(MappingPreview).show(None, self.kind, {})
        self._reading_shown(None)

    # -- rights and leaving ------------------------------------------------------------

    def refused(self, action: str) -> str | None:
        return refused_action(self, _RIGHTS, action)

    def check_action(self, action: str, parameters) -> bool | None:
        if action in ("save_profile", "read") and self.kind == "pdfs":
            return False  # a folder: no table to read again, no columns
        if action in ("verify", "import_file", "read") and self.runner.writing:
            return None  # dimmed while an import is written (a reading or a check is simply replaced)
        return None if self.refused(action) else True

    def leave_warning(self) -> str | None:
        """Asked by the app before this screen is left (Accueil, Quitter)."""
        if self.runner.writing:
            return "Un import est en cours : il se terminera (tout ou rien) même si l'écran est quitté. Quitter ?"
        return None

    def action_back(self) -> None:
        cast("TuiApp", self.app).action_leave_screen()

    # -- the file ---------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        text = self.query_one("#path", Input).value.strip()
        return Path(text).expanduser() if text else None

    @on(Input.Submitted, "#path")
    def _path_submitted(self) -> None:
        self.overrides = {}  # a new file: everything detected again
        self.action_read()

    @on(Input.Submitted, "#encoding, #delimiter, #sheet")
    def _override_submitted(self, event: Input.Submitted) -> None:
        name = event.input.id or ""
        try:
            self.overrides[name] = reading_override(name, event.value)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        self.action_read()

    def _writing(self) -> bool:
        """An import is being written: nothing else starts until it ends (said if asked)."""
        if self.runner.writing:
            self.notify("Un import est en cours : attendez qu'il se termine.", severity="warning")
        return self.runner.writing

    def action_read(self) -> None:
        if self.kind == "pdfs":  # a folder: nothing to preview, its check lists the files
            self.action_verify()
            return
        if self._writing():
            return
        path = self.path
        if path is None:
            self.notify("Donnez le chemin du fichier à importer.", severity="warning")
            self.query_one("#path", Input).focus()
            return
        self._state("Lecture du fichier…")
        self.runner.read(path, self._read_options())

    def _read_options(self) -> dict[str, str | None]:
        return {name: value for name, value in self.overrides.items() if value}

    def on_file_read(self, message: FileRead) -> None:
        if self.kind == "pdfs":
            return  # read for a table before the kind changed
        if message.then is None:  # a file (re)read by hand: the last report was another's
            self._report(message.error or HINT)
        if message.error:
            self.table = None
            self._state(message.error, error=True)
            self._show_table()
            if message.then is not None:
                self._report(message.error)
            return
        table = message.table
        assert table is not None
        same_columns = self.table is not None and self.table.headers == table.headers
        self.table = table
        if not same_columns:
            self.mapping = guess_mapping(table.headers, self.kind)
        self._show_table()
        if message.then is not None:  # a check or an import asked for this reading
            self.runner.run(message.then.with_table(table, self.mapping))

    def _show_table(self) -> None:
        self.query_one(MappingPreview).show(self.table, self.kind, self.mapping)
        self._reading_shown(self.table)
        self._describe_file()

    def _reading_shown(self, table: Table | None) -> None:
        reading = self.query_one("#reading")
        reading.set_class(table is not None and table.format == "xlsx", "-xlsx")
        reading.set_class(table is None or table.format != "xlsx", "-csv")
        self.query_one("#format", Static).update(table.format.upper() if table else "")
        values = {"encoding": table.encoding if table else "", "sheet": table.sheet if table else "",
                  "delimiter": separator_shown(table.delimiter) if table else ""}
        for name, value in values.items():
            self.query_one(f"#{name}", Input).value = field_text(value)

    def _describe_file(self) -> None:
        table = self.table
        if table is None:
            return
        missing = required_missing(self.kind, self.mapping)
        text = (f"{counted(len(table.rows), 'ligne', 'lignes')} de données, "
                f"{counted(len(table.headers), 'colonne', 'colonnes')}.")
        if missing:
            text += " Sans colonne : " + ", ".join(missing) + " (Entrée sur l'aperçu pour en désigner une)."
        self._state(text, error=bool(missing))

    def _state(self, text: str, *, error: bool = False) -> None:
        state = self.query_one("#file-state", Static)
        state.update(plain(text))
        state.set_class(error, "error")

    # -- the mapping and its profiles --------------------------------------------------

    @on(Select.Changed, "#kind")
    @reports_database_errors
    def _kind_changed(self, event: Select.Changed) -> None:
        self.kind = str(event.value)
        self.query_one("#update-mailed", Checkbox).display = self.kind != "residents"
        pdfs = self.kind == "pdfs"
        self.set_class(pdfs, "-pdfs")
        path = self.query_one(PathInput)
        path.offer(() if pdfs else FILE_SUFFIXES)  # folders only
        path.placeholder = PLACEHOLDERS.get(self.kind, PLACEHOLDER)
        self.refresh_bindings()
        if pdfs:
            self.table, self.mapping = None, {}
            self.query_one(MappingPreview).show(None, "invoices", {})
            self._state("")
            self._report(PDF_HINT)
            return
        self.profiles = profile_names(self.kind)
        profile = self.query_one("#profile", Select)
        profile.set_options(options((name, name) for name in self.profiles))
        if self.table is not None:
            self.mapping = guess_mapping(self.table.headers, self.kind)
        self._show_table()

    def on_mapping_preview_changed(self, message: MappingPreview.Changed) -> None:
        self.mapping = message.mapping
        self._describe_file()

    @on(Select.Changed, "#profile")
    @reports_database_errors
    def _profile_chosen(self, event: Select.Changed) -> None:
        if event.value is Select.NULL or self.table is None:
            return
        name = str(event.value)
        try:
            spec = load_profile(name, self.kind)
            if spec is None:
                raise ImportUsageError(f"Le profil « {name} » n'existe plus.")
            self.mapping = explicit_mapping(self.table.headers, self.kind, spec)
        except ImportUsageError as exc:
            self.notify(str(exc).replace("--map : ", ""), title="Profil", severity="error", timeout=15)
            return
        self._show_table()
        self.notify(f"Correspondance du profil « {name} » appliquée.", title="Profil")

    def action_save_profile(self) -> None:
        if reason := self.refused("save_profile"):
            refuse(self, reason)
            return
        if self.table is None:
            self.notify("Lisez d'abord un fichier : le profil retient ses colonnes.", severity="warning")
            return
        current = self.query_one("#profile", Select).value
        suggested = "" if current is Select.NULL else str(current)
        self.app.push_screen(TextPromptScreen("Nom du profil (la correspondance des colonnes, pour ce type "
                                              "de fichier) :", suggested), self._save_profile_as)

    def _save_profile_as(self, name: str | None) -> None:
        if not name:
            return
        spec = self.query_one(MappingPreview).spec()
        try:
            save_profile(name, self.kind, spec)
            self.profiles = profile_names(self.kind)
        except ImportUsageError as exc:
            self.notify(str(exc).replace("--profile : ", "Profil : "), severity="error", timeout=15)
            return
        except DATABASE_ERRORS as exc:
            database_problem(self, exc, prefix="Profil non enregistré. ")
            return
        profile = self.query_one("#profile", Select)
        with profile.prevent(Select.Changed):
            profile.set_options(options((item, item) for item in self.profiles))
            profile.value = name.strip()
        self.notify(f"Profil « {name.strip()} » enregistré.", title="Profil")

    # -- check and import ----------------------------------------------------------------

    @property
    def update_mailed(self) -> bool:
        return self.kind != "residents" and self.query_one("#update-mailed", Checkbox).value

    def _request(self, *, write: bool) -> RunRequest | None:
        if self._writing():
            return None
        path = self.path
        if path is None:
            self.notify("Donnez le chemin du fichier à importer.", severity="warning")
            self.query_one("#path", Input).focus()
            return None
        return RunRequest(self.kind, path, self._read_options(), self.update_mailed, write)

    def action_verify(self) -> None:
        request = self._request(write=False)
        if request is not None:
            self._report("Vérification en cours…")
            self._show_running()
            self.runner.start(request)

    def action_import_file(self) -> None:
        if reason := self.refused("import_file"):
            refuse(self, reason)
            return
        request = self._request(write=False)
        if request is not None:
            self._report("Vérification avant l'import…")
            self._show_running()
            self.runner.start(request.asking())

    def on_run_progress(self, message: RunProgress) -> None:
        self.query_one(ProgressBar).update(total=max(message.total, 1), progress=message.done)

    def on_run_ended(self, message: RunEnded) -> None:
        self.refresh_bindings()
        request, result = message.request, message.result
        bar = self.query_one(ProgressBar)
        bar.update(total=bar.total or 1, progress=bar.total or 1)
        if message.error or result is None:
            self._report(message.error or "L'opération n'a pas abouti.")
            self.notify(message.error, title="Import", severity="error", timeout=15)
            return
        self._report(report_text(request, result))
        if request.ask and not result.refused and not (result.created or result.updated):
            self.notify("Rien à importer : la base est déjà à jour de ce fichier.", title="Import")
        elif request.ask and not result.refused:
            def answered(yes: bool | None) -> None:
                if yes:
                    self._report("Import en cours…")
                    self._show_running()
                    self.runner.run(request.writing())

            self.app.push_screen(ConfirmScreen(confirmation(request, result)), answered)
        elif request.write and result.written:
            words = KIND_WORDS[request.kind]
            self.notify(f"Import des {words} terminé : {result.created} créé(e)s, {result.updated} modifié(e)s.",
                        title="Import", timeout=15)

    def _show_running(self) -> None:
        bar = self.query_one(ProgressBar)
        bar.add_class("-running")
        bar.update(total=None, progress=0)

    def _report(self, text: str) -> None:
        self.query_one("#report", Static).update(plain(text, multiline=True))
        self.query_one("#report-box", VerticalScroll).scroll_home(animate=False)
        self.refresh_bindings()
