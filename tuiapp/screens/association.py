"""Association: the association's name, address, identifiers, contact and payment details.

Reached from the structures' screen (a) and from the palette. What is checked (SIRET, IBAN,
BIC ...) is the model's (``Association.rules``, ``tuiapp.domain.identifiers``): this screen
only shows the fields and each refusal beside them. In service mode only the administrators
edit it (``Action.EDIT_ASSOCIATION``): the others see it, its fields disabled, and why.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Header, Input, Label, Select, Static, TextArea

from tuiapp.db.models import Association
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.formatting import format_iban, format_siret
from tuiapp.domain.identifiers import PAYMENT_TERMS, payment_terms
from tuiapp.domain.roles import Action
from tuiapp.services import forms as editing
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.form import Field, FormScreen, FormTextArea, show_errors
from tuiapp.widgets.plain import field_text, plain
from tuiapp.widgets.rights import refusal_for, refuse

#: The one-line fields, in the Tab order, with their labels.
TEXT_FIELDS = {
    "name": "Nom",
    "siret": "SIRET",
    "phone": "Téléphone",
    "email": "Courriel",
    "website": "Site web",
    "iban": "IBAN",
    "bic": "BIC",
    "cheque_payee": "Ordre des chèques",
}
LABELS = {**TEXT_FIELDS, "address": "Adresse", "payment_days": "Paiement"}


class AssociationScreen(FormScreen):
    """Edit the association's details (its mail server is the SMTP window's)."""

    TITLE_OF_NOTICES = "Association"
    CSS_PATH = "association.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Enregistrer", id="association.save"),
        Binding("escape", "leave", "Retour", id="association.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        #: Why this account only sees the details (not an administrator on the server), or None.
        self.read_only = refusal_for(self, Action.EDIT_ASSOCIATION)
        association = Association.get_solo()
        self.initial = {name: field_text(getattr(association, name)) for name in TEXT_FIELDS}
        self.initial["iban"] = format_iban(self.initial["iban"])
        self.initial["siret"] = format_siret(self.initial["siret"])
        self.initial["address"] = field_text(association.address, multiline=True)
        self.initial["payment_days"] = str(association.payment_days)

    def refused(self, action: str) -> str | None:
        return self.read_only if action == "save" else None

    def check_action(self, action: str, parameters) -> bool | None:
        return None if self.refused(action) else True

    def compose(self) -> ComposeResult:
        values = self.initial
        yield Header()
        yield Static("Association", classes="screen-title")
        with VerticalScroll(id="association-form"):
            if self.read_only:
                yield Static(plain(self.read_only, multiline=True), id="read-only")
            yield Field(TEXT_FIELDS["name"], "name", values["name"])
            with Horizontal(classes="area-row"):
                yield Label("Adresse", classes="field-label")
                yield FormTextArea(values["address"], id="address", classes="address")
            for name in ("siret", "phone", "email", "website", "iban", "bic", "cheque_payee"):
                yield Field(TEXT_FIELDS[name], name, values[name], placeholder=_PLACEHOLDERS.get(name, ""))
            with Horizontal(classes="select-row"):
                yield Label("Paiement", classes="field-label")
                yield Select(_terms_choices(int(values["payment_days"])), value=values["payment_days"],
                             allow_blank=False, id="payment_days")
            yield Static(id="errors")
        yield Footer()

    def on_mount(self) -> None:
        if self.read_only:
            for widget in self.query("#association-form Input, #association-form TextArea, #association-form Select"):
                widget.disabled = True
            return
        self.validate_form()
        name = self.query_one("#name", Input)
        name.select_on_focus = False  # at the end, nothing selected: the first key adds to the name
        name.cursor_position = len(name.value)
        self.set_focus(name)

    def form_values(self) -> dict[str, str]:
        values = {name: self.query_one(f"#{name}", Input).value for name in TEXT_FIELDS}
        values["address"] = self.query_one("#address", TextArea).text
        values["payment_days"] = str(self.query_one("#payment_days", Select).value)
        return values

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    def validate_form(self) -> None:
        if self.read_only:
            return
        _, errors = editing.check_association(self.form_values())
        show_errors(self, errors, LABELS, LABELS)

    def action_save(self) -> None:
        if self.read_only:  # reached without the key (the palette, a script): refused all the same
            refuse(self, self.read_only)
            return
        super().action_save()

    def save(self) -> str:
        try:
            association = editing.save_association(self.form_values())
        except ValidationError as exc:
            # A setting of the mail server, not shown here, that the rules refuse (a row written
            # around them, a rule added since): said, since no field of this form is red.
            lines = str(exc).split("\n")  # "label : message", one per field (ValidationError.every)
            said = lines if len(lines) == len(exc.errors) else list(exc.errors.values())
            if outside := [text for field, text in zip(exc.errors, said, strict=True) if field not in LABELS]:
                self.notify("Rien n'a été enregistré : réglages du serveur SMTP à corriger d'abord "
                            "(fenêtre Serveur SMTP, m) : " + " ; ".join(outside), severity="error", timeout=15)
            raise
        self.app.title = field_text(association.name) or "tuiapp"
        return "Les informations de l'association sont enregistrées."


_PLACEHOLDERS = {"siret": "14 chiffres", "iban": "FR76 ...", "website": "www.association.fr",
                 "cheque_payee": "(le nom de l'association)"}


def _terms_choices(current: int) -> list[tuple[str, str]]:
    days = sorted({*PAYMENT_TERMS, current})
    return [(payment_terms(day), str(day)) for day in days]
