"""Serveur SMTP: the association's outgoing server, in a modal, with a connection test."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Select, Static

from tuiapp.db.models import Association
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.roles import Action
from tuiapp.domain.smtp_security import SmtpSecurity
from tuiapp.mail import secrets
from tuiapp.mail.secrets import Secret
from tuiapp.services import forms as editing
from tuiapp.system_config import SmtpDestination
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_message
from tuiapp.widgets.form import FIELD_KEYS, ConfirmScreen, Field, show_errors, show_not_saved
from tuiapp.widgets.plain import field_text, markup, plain
from tuiapp.widgets.rights import refusal_for, refuse

FIELDS = ("smtp_host", "smtp_port", "smtp_username", "smtp_rate_per_minute", "smtp_ca_file")
SECURITY_CHOICES = [(mode.choice_label, mode.value) for mode in SmtpSecurity]
SET_BY_SERVER = ("Réglé par l'administrateur du serveur (sudo tuiapp smtp set) ; "
                 "le mot de passe appartient au service d'envoi.")


def read_only_reason(app) -> str | None:
    """None when this account edits the association's mail server here (local mode, with the right)."""
    if getattr(app, "service_mode", False):
        if _destination(app) is None:
            return "Aucun serveur SMTP n'est encore réglé sur ce serveur. " + SET_BY_SERVER
        return SET_BY_SERVER
    return refusal_for(app, Action.EDIT_ASSOCIATION)


def _destination(app) -> SmtpDestination | None:
    config = getattr(app, "config", None)
    return config.smtp if config is not None else None


def _shown(destination: SmtpDestination | None) -> dict[str, str]:
    """The server configuration's SMTP destination, as the form's text."""
    if destination is None:
        return {"smtp_host": "", "smtp_port": "", "smtp_security": SmtpSecurity.STARTTLS.value,
                "smtp_username": "", "smtp_rate_per_minute": "", "smtp_ca_file": ""}
    return {
        "smtp_host": field_text(destination.host),
        "smtp_port": str(destination.port),
        "smtp_security": SmtpSecurity(destination.security).value,
        "smtp_username": field_text(destination.username),
        "smtp_rate_per_minute": str(destination.rate_per_minute),
        "smtp_ca_file": field_text(destination.ca_file or ""),
    }


class SmtpScreen(ModalScreen[bool]):
    """Edit the server settings; the password goes to the keyring, never to the database.

    Ctrl+S saves the settings first, then writes the password to the keyring (in
    a thread: a keyring can be slow); if the keyring refuses it, the settings
    are put back as they were. Either way the window says what happened, and
    stays open with what was typed when something was not saved.
    """

    CSS_PATH = "smtp.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Enregistrer", id="smtp.save"),
        Binding("ctrl+t", "test", "Tester", id="smtp.test"),
        Binding("escape", "leave", "Fermer", id="smtp.close"),
        *FIELD_KEYS,
    ]

    def __init__(self) -> None:
        super().__init__()
        #: Why this account only sees the settings (service mode, or no right to change them), or None.
        self.read_only = read_only_reason(self.app)
        destination = _destination(self.app)
        association = Association.get_solo()
        self.allow_insecure_auth = association.smtp_allow_insecure_auth
        self.timeout = association.smtp_timeout
        if getattr(self.app, "service_mode", False):
            # The server's configuration, never the database's fields: those are not used there.
            self.initial = _shown(destination)
            return
        # The form's text as first shown; the password field starts empty ("keep the stored one").
        self.initial = {
            "smtp_host": field_text(association.smtp_host),
            "smtp_port": str(association.smtp_port),
            "smtp_security": association.smtp_security,
            "smtp_username": field_text(association.smtp_username),
            "smtp_rate_per_minute": str(association.smtp_rate_per_minute),
            "smtp_ca_file": field_text(association.smtp_ca_file),
        }

    def compose(self) -> ComposeResult:
        values = self.initial
        with VerticalScroll(id="smtp"):
            yield Static("[b]Serveur SMTP de l'association[/b]", id="smtp-title")
            if self.read_only:
                yield Static(plain(self.read_only, multiline=True), id="read-only")
            yield Static(id="test-result")
            yield Field("Serveur", "smtp_host", values["smtp_host"])
            yield Field("Port", "smtp_port", values["smtp_port"])
            with Horizontal(classes="select-row"):
                yield Label("Sécurité", classes="field-label")
                yield Select(SECURITY_CHOICES, value=values["smtp_security"], allow_blank=False, id="smtp_security")
            yield Field("Identifiant", "smtp_username", values["smtp_username"])
            yield Field("Mot de passe", "password", password=True,
                        placeholder="au service d'envoi" if self.read_only else "vide : garder l'actuel")
            yield Static("", id="password-state")
            yield Field("Messages par minute", "smtp_rate_per_minute", values["smtp_rate_per_minute"])
            yield Field("Certificats (option)", "smtp_ca_file", values["smtp_ca_file"],
                        placeholder="vide : ceux du système")
            yield Static(id="errors")
        yield Footer()

    _state_timer = None
    _test_number = 0

    def on_mount(self) -> None:
        if self.read_only:
            for widget in self.query("#smtp Input, #smtp Select"):
                widget.disabled = True
            self.query_one("#password-state", Static).update("")
            return
        self.refresh_password_state()
        self.validate_form()

    def refused(self, action: str) -> str | None:
        """Saving, and testing with a password this account does not hold, when the settings are not its own."""
        return self.read_only if action in ("save", "test") else None

    def form_values(self) -> dict[str, str]:
        """The settings as typed; the password is apart (``_typed_password``): it goes to the keyring."""
        values = {name: self.query_one(f"#{name}", Input).value for name in FIELDS}
        values["smtp_security"] = str(self.query_one("#smtp_security", Select).value)
        return values

    def _typed_password(self) -> Secret:
        return Secret(self.query_one("#password", Input).value)

    @property
    def dirty(self) -> bool:
        return self.form_values() != self.initial or bool(self._typed_password())

    def leave_warning(self) -> str | None:
        """Asked by the app before this window is left some other way (Accueil, Quitter)."""
        return "Des modifications ne sont pas enregistrées : les abandonner ?" if self.dirty else None

    @on(Input.Changed, "#smtp_host, #smtp_username")
    def _account_changed(self) -> None:
        # The password is stored per server and account: say what is stored for the new pair.
        if self._state_timer is not None:
            self._state_timer.stop()
        self._state_timer = self.set_timer(0.4, self.refresh_password_state)

    @on(Input.Changed)
    @on(Select.Changed)
    def validate_form(self) -> dict | None:
        if self.read_only:  # shown, not edited: nothing to check
            return None
        values, errors = editing.check_smtp(self.form_values())
        show_errors(self, errors, FIELDS)
        return None if errors else values

    @work(thread=True, exclusive=True, group="password-state", exit_on_error=False)
    def refresh_password_state(self) -> None:
        if self.read_only:  # the password is not this account's (service mode): no keyring asked
            return
        values = self.form_values()
        host, username = values["smtp_host"].strip(), values["smtp_username"].strip()
        if not username:
            text = "Pas d'identifiant : pas d'authentification."
        else:
            try:
                stored = secrets.has_password(host, username)
                text = ("Mot de passe enregistré dans le trousseau pour ce compte." if stored
                        else "Aucun mot de passe enregistré pour ce compte : saisissez-le.")
            except secrets.SecretStoreError as exc:
                text = str(exc)
        self.app.call_from_thread(self.query_one("#password-state", Static).update, plain(text))

    def action_test(self) -> None:
        if self.read_only:
            refuse(self, self.read_only)
            return
        values = self.validate_form()
        if values is None:
            self.notify("Corrigez les champs en rouge avant de tester.", severity="error")
            return
        self._test_number += 1
        self.query_one("#test-result", Static).update("Test en cours...")
        self.test_connection(values, self._typed_password(), self._test_number)

    def _show_result(self, number: int, text: str) -> None:
        if number == self._test_number:  # an older test that ends late says nothing
            self.query_one("#test-result", Static).update(text)

    @work(thread=True, group="smtp-test", exit_on_error=False)
    def test_connection(self, values: dict, typed_password: Secret, number: int) -> None:
        from tuiapp.mail.problems import SmtpProblem
        from tuiapp.mail.smtp_client import (
            Authenticator,
            NoAuthentication,
            PasswordAuthenticator,
            SmtpSettings,
            check_connection,
        )

        settings = SmtpSettings(
            host=values["smtp_host"], port=values["smtp_port"], security=values["smtp_security"],
            username=values["smtp_username"], timeout=min(self.timeout, 20),
            rate_per_minute=values["smtp_rate_per_minute"], ca_file=values["smtp_ca_file"],
            allow_insecure_auth=self.allow_insecure_auth,
        )
        authenticator: Authenticator
        try:
            if settings.username:
                password = typed_password or secrets.get_password(settings.host, settings.username)
                authenticator = PasswordAuthenticator(settings.username, lambda: password)
            else:
                authenticator = NoAuthentication()
            check_connection(settings, authenticator)
            text = markup("[green]Connexion réussie" + (" : chiffrement et authentification acceptés.[/]"
                                                         if settings.username else ".[/]"))
        except (SmtpProblem, secrets.SecretStoreError) as problem:
            text = markup("[red]Échec : $problem[/]", problem=problem)
        except UnicodeError:
            text = markup("[red]Échec : le nom du serveur n'est pas valide.[/]")
        except Exception as exc:  # never a silent "Test en cours..."
            text = markup("[red]Échec inattendu ($kind).[/]", kind=type(exc).__name__)
        self.app.call_from_thread(self._show_result, number, text)

    _saving = False  # the keyring is being written: Ctrl+S and Échap wait for it

    def check_action(self, action: str, parameters) -> bool | None:
        if self.refused(action):
            return None
        return not (self._saving and action in ("save", "leave", "test"))

    def action_save(self) -> None:
        if self.read_only:  # never the database's SMTP fields in service mode, whoever you are
            refuse(self, self.read_only)
            return
        values = self.validate_form()
        if values is None:
            self.notify("Corrigez les champs en rouge avant d'enregistrer.", severity="error")
            return
        password = self._typed_password()
        if password and not values["smtp_username"]:
            self.notify("Un mot de passe sans identifiant ne sert à rien.", severity="error")
            return
        try:
            previous = editing.save_smtp(values)
        except DATABASE_ERRORS as exc:  # nothing saved, the keyring not touched
            show_not_saved(self, exc)
            return
        except ValidationError as exc:  # a field of the association that this form does not show
            self.query_one("#errors", Static).update(plain(exc))
            return
        if not password:
            self._saved()
            return
        self._saving = True
        self.refresh_bindings()
        self.query_one("#errors", Static).update("Enregistrement du mot de passe dans le trousseau...")
        self.store_password(values["smtp_host"], values["smtp_username"], password, previous)

    @work(thread=True, exclusive=True, group="smtp-save", exit_on_error=False)
    def store_password(self, host: str, username: str, password: Secret, previous: dict) -> None:
        try:
            secrets.set_password(host, username, password)
            problem = None
        except secrets.SecretStoreError as exc:
            problem = str(exc)
        except Exception as exc:  # a keyring backend's own fault: the settings are put back all the same
            problem = f"Le trousseau a échoué ({type(exc).__name__}) : le mot de passe n'a pas été enregistré."
        self.app.call_from_thread(self._password_stored, problem, previous)

    def _password_stored(self, problem: str | None, previous: dict) -> None:
        self._saving = False
        self.refresh_bindings()
        if problem is None:
            self._saved()
            return
        try:
            editing.save_smtp(previous)
            undone = "Les réglages n'ont pas été modifiés."
        except DATABASE_ERRORS as exc:
            undone = ("Attention : les nouveaux réglages sont enregistrés, sans le mot de passe. "
                      + database_message(self, exc))
        message = f"{problem}\n{undone}"
        self.query_one("#errors", Static).update(plain(message, multiline=True))
        self.notify(message, title="Serveur SMTP", severity="error", timeout=15, markup=False)

    def _saved(self) -> None:
        self.notify("Réglages du serveur SMTP enregistrés.", title="Serveur SMTP")
        self.dismiss(True)

    def action_leave(self) -> None:
        if not self.dirty:
            self.dismiss(False)
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.dismiss(False)

        self.app.push_screen(ConfirmScreen("Abandonner les modifications non enregistrées ?"), answered)
