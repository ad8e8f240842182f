"""Gestion des structures: the list, and the form with its Mail tab."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from peewee import fn
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static, TabbedContent, TabPane, TextArea

from tuiapp.db.models import Resident, Structure
from tuiapp.domain import templates
from tuiapp.domain.identifiers import VAT_STATEMENTS
from tuiapp.domain.roles import Action
from tuiapp.services import forms as editing
from tuiapp.widgets.db_errors import reports_database_errors
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.form import Field, FormScreen, FormTextArea, cursor_key, show_errors
from tuiapp.widgets.mail_text import MailTextArea
from tuiapp.widgets.plain import cell, field_text, markup
from tuiapp.widgets.rights import refuse, refused_action

TEXT_FIELDS = ("code", "name", "finess", "sender_email", "sender_name", "reply_to", "bcc", "subject_template")
AREA_FIELDS = ("address", "billing_contact", "body_template")
#: The VAT statement's list: the usual ones, then "another", typed in the field below it.
OTHER_VAT = "other"
VAT_CHOICES = [*((text, text) for text in VAT_STATEMENTS), ("Autre mention (à saisir)", OTHER_VAT)]
LABELS = {"address": "Adresse", "billing_contact": "Contact facturation", "body_template": "Texte du mail",
          "vat_statement": "Mention de TVA"}
#: What an operator may not do on the list (dimmed keys; the reason when pressed).
_RIGHTS = {"new": Action.EDIT_STRUCTURES, "edit": Action.EDIT_STRUCTURES}


#: With their padding, the columns before "Expéditeur" end by 10 + 36 + 8 = 54: it is whole at 80.
CODE_WIDTH, NAME_WIDTH = 8, 34


class StructuresScreen(Screen[None]):
    """The association's structures; the SMTP server is set from here, as in the seed."""

    CSS_PATH = "structures.tcss"
    BINDINGS = [
        Binding("n", "new", "Nouvelle", id="structures.new"),
        Binding("enter", "edit", "Modifier", id="structures.edit", priority=True),
        Binding("m", "app.smtp", "Serveur SMTP", id="structures.smtp"),
        Binding("a", "app.association", "Association", id="structures.association"),
        Binding("escape", "app.pop_screen", "Retour", id="structures.back"),
    ]

    def refused(self, action: str) -> str | None:
        return refused_action(self, _RIGHTS, action)

    def check_action(self, action: str, parameters) -> bool | None:
        return None if self.refused(action) else True

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Gestion des structures", classes="screen-title")
        yield DataTable(id="structures", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    @reports_database_errors
    def reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        counts = (
            Resident.select(Resident.structure, fn.COUNT(Resident.id)).where(Resident.active)
            .group_by(Resident.structure).tuples()
        )  # one query, not one per structure
        # Peewee's stubs type .tuples() as the model query it came from; it yields (structure id, count).
        active = dict(cast(Iterable[tuple[int, int]], counts))
        structures = list(Structure.select().order_by(Structure.code))
        # The count before the address, the code and the name as wide as they are but capped: every
        # header whole at 80 columns ("Actifs" was cut to "Ac" after a long address); the end of a
        # long address is read by scrolling.
        table.add_column("Code", width=min(max([4, *(len(s.code) for s in structures)]), CODE_WIDTH))
        table.add_column("Nom", width=min(max([3, *(len(s.name) for s in structures)]), NAME_WIDTH))
        table.add_column("Actifs", width=6)
        table.add_column("Expéditeur", width=max([len("(à renseigner)"), *(len(s.sender_email or "") for s in structures)]))
        for structure in structures:
            residents = active.get(structure.id, 0)
            cells = (structure.code, structure.name, str(residents), structure.sender_email or "(à renseigner)")
            table.add_row(*(cell(text) for text in cells), key=str(structure.id))

    def action_new(self) -> None:
        if reason := self.refused("new"):
            refuse(self, reason)
            return
        self.app.push_screen(StructureFormScreen(None))

    @reports_database_errors
    def action_edit(self) -> None:
        if reason := self.refused("edit"):
            refuse(self, reason)
            return
        key = cursor_key(self.query_one(DataTable))
        if key is not None:
            self.app.push_screen(StructureFormScreen(Structure.get_by_id(key)))


class StructureFormScreen(FormScreen):
    """Create or edit one structure; the Mail tab previews the message as typed."""

    TITLE_OF_NOTICES = "Structure"
    CSS_PATH = "structures.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Enregistrer", id="structure.save"),
        # Priority, like Tab: the tab and the focus change as the key is read, before the next keys.
        Binding("f2", "show_tab('general')", "Général", id="structure.general", priority=True),
        Binding("f3", "show_tab('mail')", "Mail", id="structure.mail", priority=True),
        Binding("escape", "leave", "Retour", id="structure.back"),
    ]

    def __init__(self, structure: Structure | None) -> None:
        super().__init__()
        self.structure = structure
        source = structure or Structure()
        self.initial = {name: field_text(getattr(source, name)) for name in TEXT_FIELDS}
        self.initial.update({name: field_text(getattr(source, name), multiline=True) for name in AREA_FIELDS})
        self.initial["vat_statement"] = field_text(source.vat_statement)

    def compose(self) -> ComposeResult:
        values = self.initial
        yield Header()
        title = markup("Structure $code", code=self.structure.code) if self.structure else "Nouvelle structure"
        yield Static(title, classes="screen-title")
        with TabbedContent(initial="mail" if self.structure else "general"):
            with TabPane("Général", id="general"):
                with VerticalScroll():
                    yield Field("Code", "code", values["code"], placeholder="ex. FH")
                    yield Field("Nom", "name", values["name"])
                    yield Label("Adresse", classes="field-label")
                    yield FormTextArea(values["address"], id="address", classes="address")
                    yield Field("N° FINESS", "finess", values["finess"], placeholder="9 caractères")
                    vat = values["vat_statement"]
                    with Horizontal(classes="select-row"):
                        yield Label("Mention de TVA", classes="field-label")
                        yield Select(VAT_CHOICES, value=vat if vat in VAT_STATEMENTS else OTHER_VAT if vat
                                     else Select.NULL, prompt="(à choisir)", id="vat_choice")
                    yield Field("Autre mention", "vat_other", "" if vat in VAT_STATEMENTS else vat)
                    yield Label("Contact facturation", classes="field-label")
                    yield FormTextArea(values["billing_contact"], id="billing_contact", classes="contact")
            with TabPane("Mail", id="mail"):
                with Horizontal():
                    with VerticalScroll(id="mail-form"):
                        yield Field("Adresse expéditeur", "sender_email", values["sender_email"])
                        yield Field("Nom expéditeur", "sender_name", values["sender_name"])
                        yield Field("Réponse à", "reply_to", values["reply_to"])
                        yield Field("Copie cachée (Cci)", "bcc", values["bcc"])
                        yield Field("Objet", "subject_template", values["subject_template"])
                        yield Label("Texte du mail", classes="field-label")
                        yield MailTextArea(values["body_template"], id="body_template", classes="body")
                    with VerticalScroll(id="mail-side", can_focus=True):
                        yield Static(self._keywords_text(), id="keywords")
                        yield Static(id="preview")
        yield Static(id="errors")
        yield Footer()

    @staticmethod
    def _keywords_text() -> str:
        return "[b]Mots-clés[/b]\n" + "\n".join(f"&{name}" for name in templates.KEYWORDS)

    def on_mount(self) -> None:
        self._show_other_vat()
        self.refresh_form()
        self.action_show_tab(self.query_one(TabbedContent).active)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        # At once, not as widget.focus() does after the keys already waiting: they belong to the new field.
        self.set_focus(self.query_one("#code" if tab == "general" else "#sender_email", Input))

    def _vat_choice(self) -> str:
        choice = self.query_one("#vat_choice", Select).value
        return "" if choice is Select.NULL else str(choice)

    @on(Select.Changed, "#vat_choice")
    def _show_other_vat(self) -> None:
        """The free text, only when "another statement" is chosen (hidden, it is out of the Tab order)."""
        self.query_one("#field-vat_other").display = self._vat_choice() == OTHER_VAT

    def form_values(self) -> dict[str, str]:
        values = {name: self.query_one(f"#{name}", Input).value for name in TEXT_FIELDS}
        values.update({name: self.query_one(f"#{name}", TextArea).text for name in AREA_FIELDS})
        choice = self._vat_choice()
        values["vat_statement"] = self.query_one("#vat_other", Input).value if choice == OTHER_VAT else choice
        return values

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @reports_database_errors  # the code's uniqueness is checked in the database
    def refresh_form(self) -> None:
        form = self.form_values()
        _, errors = editing.check_structure(form, self.structure)
        if "vat_statement" in errors:  # typed in the free text: shown there
            errors["vat_other"] = errors.pop("vat_statement")
        show_errors(self, errors, (*TEXT_FIELDS, *AREA_FIELDS, "vat_other"), {**LABELS, "vat_other": "Mention de TVA"})
        sample = templates.sample_values(form["name"])
        subject = templates.render(form["subject_template"], sample)
        body = templates.render(form["body_template"], sample)
        self.query_one("#preview", Static).update(
            markup("[b]Aperçu[/b]\n[i]Objet :[/i] $subject\n\n$body", subject=subject, body=body)
        )

    def save(self) -> str:
        self.structure = editing.save_structure(self.form_values(), self.structure)
        if warning := editing.sender_warning(self.structure):
            self.notify(warning, title="Sans expéditeur", severity="warning", timeout=15)
        return f"Structure {self.structure.code} enregistrée."
