"""Résidents: the list with search and structure filter, and the resident form."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static, Switch, TextArea

from tuiapp.db import queries
from tuiapp.db.models import Resident, Structure
from tuiapp.domain.formatting import counted
from tuiapp.domain.identifiers import GUARDIAN_RELATIONS
from tuiapp.services import forms as editing
from tuiapp.widgets.db_errors import reports_database_errors
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.form import Field, FormInput, FormScreen, FormTextArea, cursor_key, show_errors
from tuiapp.widgets.plain import cell, field_text, markup, options

TEXT_FIELDS = ("last_name", "first_name", "external_id", "email", "guardian_name", "guardian_email")
AREA_FIELDS = ("address", "guardian_address")
RELATION_CHOICES = [(relation, relation) for relation in GUARDIAN_RELATIONS]
LABELS = {"structure": "Structure", "address": "Adresse", "guardian_address": "Adresse du tuteur",
          "guardian_relation": "Lien du tuteur"}
ALL = "all"
SHOWN_AT_MOST = 300


def _structure_choices() -> list[tuple[Text, str]]:
    return options((f"{s.code} - {s.name}", str(s.id)) for s in Structure.select().order_by(Structure.code))


class ResidentsScreen(Screen[None]):
    CSS_PATH = "residents.tcss"
    AUTO_FOCUS = "#residents"  # the list, from the start: Entrée and n act on it, never on the search
    BINDINGS = [
        Binding("n", "new", "Nouveau", id="residents.new"),
        Binding("enter", "edit", "Modifier", id="residents.edit", priority=True),
        Binding("slash", "search", "Rechercher", id="residents.search", key_display="/"),
        Binding("escape", "back", "Retour", id="residents.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.structure_choices = _structure_choices()  # read here: a database error stops the opening, not compose

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Résidents", classes="screen-title")
        with Horizontal(id="filters"):
            yield FormInput(placeholder="Rechercher un nom (/)", id="search")
            yield Select([("Toutes les structures", ALL), *self.structure_choices], value=ALL, allow_blank=False,
                         id="structure-filter")
        yield DataTable(id="residents", cursor_type="row", zebra_stripes=True)
        yield Static(id="count")
        yield Footer()

    _search_timer = None

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # The first three fixed (a long name never pushes a header past the edge): with their
        # padding they end at 49, and "Courriel" is whole at 80 columns; the rest by scrolling.
        for label, width in (("Nom", 26), ("Adresses", 8), ("Structure", 9)):
            table.add_column(label, width=width)
        table.add_columns("Courriel", "Tuteur", "Courriel tuteur")
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        # Wait for a pause in the typing rather than querying on every key.
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(0.25, self.reload)

    @on(Select.Changed, "#structure-filter")
    @reports_database_errors
    def reload(self) -> None:
        search = self.query_one("#search", Input).value
        chosen = self.query_one("#structure-filter", Select).value  # never blank: ALL or a structure's id
        structure = int(chosen) if isinstance(chosen, str) and chosen != ALL else None
        query = queries.residents(structure, search)
        total = query.count()
        rows = query.limit(SHOWN_AT_MOST)
        table = self.query_one(DataTable)
        table.clear()
        without = 0
        for resident in rows:
            has_address = bool(resident.recipients)
            without += not has_address
            name = resident.display_name + ("" if resident.active else " (sorti)")
            marker = cell(len(resident.recipients)) if has_address else cell("aucune", style="bold red")
            cells = [cell(text) for text in (name, resident.structure.code, resident.email, resident.guardian_name,
                                             resident.guardian_email)]
            table.add_row(cells[0], marker, *cells[1:], key=str(resident.id))
        self.query_one("#count", Static).update(self.count_text(total, without))

    @staticmethod
    def count_text(total: int, without: int) -> str:
        """The one-row count under the list (``without``: the residents shown without an address)."""
        if total <= SHOWN_AT_MOST:
            return f"{counted(total, 'résident', 'résidents')} ; {without} sans adresse e-mail parmi les affichés"
        return f"{total} résidents, {SHOWN_AT_MOST} affichés (affinez : /), dont {without} sans adresse e-mail"

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_back(self) -> None:
        if self.focused is self.query_one("#search"):
            self.query_one(DataTable).focus()
        else:
            self.app.pop_screen()

    @reports_database_errors
    def action_new(self) -> None:
        self.app.push_screen(ResidentFormScreen(None))

    @reports_database_errors
    def action_edit(self) -> None:
        table = self.query_one(DataTable)
        if not table.has_focus:  # Entrée in the search field or the filter: back to the list
            if self.focused is self.query_one("#search"):
                if self._search_timer is not None:  # the list shows what was typed before the next Entrée
                    self._search_timer.stop()
                    self._search_timer = None
                    self.reload()
                self.set_focus(table)
                return
            raise SkipAction()
        key = cursor_key(table)
        if key is not None:
            self.app.push_screen(ResidentFormScreen(Resident.get_by_id(key)))



class ResidentFormScreen(FormScreen):
    TITLE_OF_NOTICES = "Résident"

    CSS_PATH = "residents.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Enregistrer", id="resident.save"),
        Binding("escape", "leave", "Retour", id="resident.back"),
    ]

    def __init__(self, resident: Resident | None) -> None:
        super().__init__()
        self.resident = resident
        source = resident or Resident(active=True)
        self.initial = {name: field_text(getattr(source, name)) for name in TEXT_FIELDS}
        self.structure_choices = choices = _structure_choices()
        self.initial["structure"] = str(source.structure_id) if resident else (choices[0][1] if choices else "")
        self.initial["active"] = "1" if source.active else "0"
        self.initial.update({name: field_text(getattr(source, name), multiline=True) for name in AREA_FIELDS})
        self.initial["guardian_relation"] = field_text(source.guardian_relation)
        self.initial["direct_debit"] = "1" if source.direct_debit else "0"

    def compose(self) -> ComposeResult:
        values = self.initial
        yield Header()
        title = markup("Résident $name", name=self.resident.display_name) if self.resident else "Nouveau résident"
        yield Static(title, classes="screen-title")
        with VerticalScroll(id="resident-form"):
            yield Field("Nom", "last_name", values["last_name"])
            yield Field("Prénom", "first_name", values["first_name"])
            yield Field("N° résident", "external_id", values["external_id"], placeholder="(logiciel de facturation)")
            with Horizontal(classes="select-row"):
                yield Label("Structure", classes="field-label")
                yield Select(self.structure_choices, value=values["structure"] or Select.NULL, id="structure")
            with Horizontal(classes="area-row"):
                yield Label("Adresse", classes="field-label")
                yield FormTextArea(values["address"], id="address", classes="address")
            yield Field("Courriel du résident", "email", values["email"])
            with Horizontal(classes="switch-row"):
                yield Label("Prélèvement", classes="field-label")
                yield Switch(value=values["direct_debit"] == "1", id="direct_debit")
            yield Field("Tuteur", "guardian_name", values["guardian_name"])
            with Horizontal(classes="select-row"):
                yield Label("Lien du tuteur", classes="field-label")
                relation = values["guardian_relation"]
                yield Select(RELATION_CHOICES, value=relation if relation in GUARDIAN_RELATIONS else Select.NULL,
                             prompt="(aucun)", id="guardian_relation")
            with Horizontal(classes="area-row"):
                yield Label("Adresse du tuteur", classes="field-label")
                yield FormTextArea(values["guardian_address"], id="guardian_address", classes="address")
            yield Field("Courriel du tuteur", "guardian_email", values["guardian_email"])
            with Horizontal(classes="switch-row"):
                yield Label("Présent (actif)", classes="field-label")
                yield Switch(value=values["active"] == "1", id="active")
            yield Static(id="errors")
        yield Footer()

    def on_mount(self) -> None:
        self.validate_form()
        self.set_focus(self.query_one("#last_name", Input))  # at once: the keys typed next are its own

    def form_values(self) -> dict[str, str]:
        values = {name: self.query_one(f"#{name}", Input).value for name in TEXT_FIELDS}
        structure = self.query_one("#structure", Select).value
        values["structure"] = "" if structure is Select.NULL else str(structure)
        values["active"] = "1" if self.query_one("#active", Switch).value else "0"
        values.update({name: self.query_one(f"#{name}", TextArea).text for name in AREA_FIELDS})
        relation = self.query_one("#guardian_relation", Select).value
        values["guardian_relation"] = "" if relation is Select.NULL else str(relation)
        values["direct_debit"] = "1" if self.query_one("#direct_debit", Switch).value else "0"
        return values

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    @reports_database_errors  # the structure is looked up in the database
    def validate_form(self) -> None:
        _, errors = editing.check_resident(self.form_values())
        show_errors(self, errors, (*TEXT_FIELDS, *AREA_FIELDS, "structure", "guardian_relation"), LABELS)

    def save(self) -> str:
        self.resident = editing.save_resident(self.form_values(), self.resident)
        return f"{self.resident.display_name} enregistré(e)."
