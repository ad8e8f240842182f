"""Serveur SMTP: the association's outgoing server, in a modal, with a connection test."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Select, Static

from tuiapp.db.models import Association
from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.errors import ValidationError
from tuiapp.mail import secrets
from tuiapp.mail.secrets import Secret
from tuiapp.screens import smtp_checks
from tuiapp.screens import smtp_fields as fields
from tuiapp.screens.sign_in import SignInOutcome, SignInScreen
from tuiapp.screens.smtp_fields import (
    FIELDS,
    INSECURE_AUTH,
    LABELS,
    OAUTH_FIELDS,
    SIGN_IN_METHOD,
    SIGN_IN_ON_SERVER,
)
from tuiapp.services import forms as editing
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_message
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.form import FIELD_KEYS, FIRST_FIELD, ConfirmScreen, show_errors, show_not_saved
from tuiapp.widgets.plain import markup, plain
from tuiapp.widgets.rights import refuse


class SmtpScreen(ModalScreen[bool]):
    """Edit the server settings; the password goes to the keyring, never to the database.

    Ctrl+S saves the settings first, then writes the password to the keyring (in
    a thread: a keyring can be slow); if the keyring refuses it, the settings
    are put back as they were. Either way the window says what happened, and
    stays open with what was typed when something was not saved.

    Authentification chooses the password or OAuth 2.0 (Office 365): only the
    chosen method's fields are shown (hidden, they are out of the Tab order).
    With the device code, Ctrl+L (Se connecter) opens the sign-in window, after
    saving the settings if they changed (it asks first).
    """

    CSS_PATH = "smtp.tcss"
    AUTO_FOCUS = FIRST_FIELD  # the server's name, cursor at the end (not the window's scroll area)
    BINDINGS = [
        Binding("ctrl+s", "save", "Enregistrer", id="smtp.save"),
        Binding("ctrl+t", "test", "Tester", id="smtp.test"),
        Binding("ctrl+l", "sign_in", "Se connecter", id="smtp.sign-in"),
        Binding("escape", "leave", "Fermer", id="smtp.close"),
        *FIELD_KEYS,
    ]

    def __init__(self) -> None:
        super().__init__()
        #: Why this account only sees the settings (service mode, or no right to change them), or None.
        self.read_only = fields.read_only_reason(self.app)
        destination = fields.destination(self.app)
        association = Association.get_solo()
        self.timeout = association.smtp_timeout
        if getattr(self.app, "service_mode", False):
            # The server's configuration, never the database's fields: those are not used there.
            self.initial = fields.shown(destination)
            return
        # The form's text as first shown; the password field starts empty ("keep the stored one").
        self.initial = fields.from_association(association)

    def compose(self) -> ComposeResult:
        values = self.initial
        # The title outside the scrolled part: a long error, or the focus on the last field, never hides it.
        with Vertical(id="smtp"):
            yield Static("[b]Serveur SMTP de l'association[/b]", id="smtp-title")
            with VerticalScroll(id="smtp-body"):
                if self.read_only:
                    yield Static(plain(self.read_only, multiline=True), id="read-only")
                yield Static(id="test-result")
                yield from fields.compose_fields(values, read_only=bool(self.read_only))
                yield Static(id="errors")
        yield Footer()

    _state_timer = None
    _test_number = 0

    def on_mount(self) -> None:
        self._show_method_fields()
        self._show_insecure_warning()
        if self.read_only:
            for widget in self.query("#smtp Input, #smtp Select, #smtp Checkbox"):
                widget.disabled = True
            oauth = getattr(self.app, "service_mode", False) and self._method().is_oauth
            self.query_one("#password-state", Static).update(SIGN_IN_ON_SERVER if oauth else "")
            return
        self.refresh_password_state()
        self.validate_form()

    def _method(self) -> AuthMethod:
        try:
            return AuthMethod(str(self.query_one("#smtp_auth_method", Select).value))
        except NoMatches:  # asked before the form is built (the footer's first look)
            return AuthMethod(self.initial["smtp_auth_method"])

    def _show_method_fields(self) -> None:
        """The chosen method's fields, and only those (a hidden field is out of the Tab order)."""
        method = self._method()
        self.query_one("#field-password").display = method is AuthMethod.PASSWORD
        for name in OAUTH_FIELDS:
            self.query_one(f"#field-{name}").display = method.is_oauth
        self.query_one("#field-smtp_oauth_certificate").display = method is AuthMethod.OAUTH2_APP

    def _show_insecure_warning(self) -> None:
        self.query_one("#insecure-warning").display = self.query_one(f"#{INSECURE_AUTH}", Checkbox).value

    @on(Checkbox.Changed, f"#{INSECURE_AUTH}")
    def _insecure_changed(self) -> None:
        self._show_insecure_warning()

    @on(Select.Changed, "#smtp_auth_method")
    def _method_changed(self) -> None:
        self._show_method_fields()
        self.refresh_bindings()  # Se connecter is the device code's
        self._account_changed()

    def refused(self, action: str) -> str | None:
        """Saving, and testing with a password this account does not hold, when the settings are not its own;
        signing in, but with the device code, and never in service mode (the service's own sign-in)."""
        if action == "sign_in":
            if getattr(self.app, "service_mode", False):
                return SIGN_IN_ON_SERVER
            return self.read_only or (None if self._method() is AuthMethod.OAUTH2_DEVICE else SIGN_IN_METHOD)
        return self.read_only if action in ("save", "test") else None

    def form_values(self) -> dict[str, str]:
        """The settings as typed; the password is apart (``_typed_password``): it goes to the keyring."""
        values = {name: self.query_one(f"#{name}", Input).value for name in FIELDS}
        values["smtp_security"] = str(self.query_one("#smtp_security", Select).value)
        values["smtp_auth_method"] = str(self.query_one("#smtp_auth_method", Select).value)
        values[INSECURE_AUTH] = "1" if self.query_one(f"#{INSECURE_AUTH}", Checkbox).value else ""
        return values

    def _typed_password(self) -> Secret:
        return Secret(self.query_one("#password", Input).value)

    @property
    def dirty(self) -> bool:
        typed = self._method() is AuthMethod.PASSWORD and bool(self._typed_password())  # hidden otherwise
        return self.form_values() != self.initial or typed

    def leave_warning(self) -> str | None:
        """Asked by the app before this window is left some other way (Accueil, Quitter)."""
        return "Des modifications ne sont pas enregistrées : les abandonner ?" if self.dirty else None

    @on(Input.Changed, "#smtp_host, #smtp_username, #smtp_oauth_tenant, #smtp_oauth_client_id, "
                       "#smtp_oauth_certificate, #smtp_oauth_authority")
    def _account_changed(self) -> None:
        # The password is stored per server and account, the OAuth sign-in per provider, tenant,
        # application and mailbox: say what is stored for the new ones.
        if self._state_timer is not None:
            self._state_timer.stop()
        self._state_timer = self.set_timer(0.4, self.refresh_password_state)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def validate_form(self) -> dict | None:
        if self.read_only:  # shown, not edited: nothing to check
            return None
        values, errors = editing.check_smtp(self.form_values())
        show_errors(self, errors, (*FIELDS, *LABELS), LABELS)
        return None if errors else values

    @work(thread=True, exclusive=True, group="password-state", exit_on_error=False)
    def refresh_password_state(self) -> None:
        if self.read_only:  # the password is not this account's (service mode): no keyring asked
            return
        settings = smtp_checks.settings_from(self.form_values())
        if settings.auth_method.is_oauth:
            text = smtp_checks.oauth_state(settings)
        else:
            text = smtp_checks.password_state(settings)
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
        self._say("Test en cours...")
        self.test_connection(values, self._typed_password(), self._test_number)

    def _say(self, text) -> None:
        """The line of the test's and the sign-in's results, at the top (no line at all when empty)."""
        line = self.query_one("#test-result", Static)
        line.update(text)
        line.display = bool(text)

    def _show_result(self, number: int, text: str) -> None:
        if number == self._test_number:  # an older test that ends late says nothing
            self._say(text)

    @work(thread=True, group="smtp-test", exit_on_error=False)
    def test_connection(self, values: dict, typed_password: Secret, number: int) -> None:
        settings = smtp_checks.settings_from(values, timeout=min(self.timeout, 20))
        text = smtp_checks.connection_test(settings, typed_password)
        self.app.call_from_thread(self._show_result, number, text)

    _saving = False  # the keyring is being written: Ctrl+S and Échap wait for it

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "sign_in":  # in the footer with the device code only; dimmed when refused
            if self._method() is not AuthMethod.OAUTH2_DEVICE:
                return False
            return None if self.refused(action) or self._saving else True
        if self.refused(action):
            return None
        return not (self._saving and action in ("save", "leave", "test", "sign_in"))

    def action_save(self) -> None:
        if self.read_only:  # never the database's SMTP fields in service mode, whoever you are
            refuse(self, self.read_only)
            return
        values = self.validate_form()
        if values is None:
            self.notify("Corrigez les champs en rouge avant d'enregistrer.", severity="error")
            return
        password = self._typed_password() if self._method() is AuthMethod.PASSWORD else Secret("")
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

    # -- Se connecter (device code) ----------------------------------------------------------

    def action_sign_in(self) -> None:
        if reason := self.refused("sign_in"):
            refuse(self, reason)
            return
        values = self.validate_form()
        if values is None:
            self.notify("Corrigez les champs en rouge avant de vous connecter.", severity="error")
            return
        if not self.dirty:
            self._open_sign_in()
            return

        def answered(save: bool | None) -> None:
            if save and self._save_before_sign_in(values):
                self._open_sign_in()

        self.app.push_screen(ConfirmScreen("Les réglages ont changé : les enregistrer, puis se connecter ?"),
                             answered)

    def _save_before_sign_in(self, values: dict) -> bool:
        """Save the settings and stay open: the sign-in is for the saved mailbox and application."""
        try:
            editing.save_smtp(values)
        except DATABASE_ERRORS as exc:
            show_not_saved(self, exc)
            return False
        except ValidationError as exc:
            self.query_one("#errors", Static).update(plain(exc))
            return False
        self.initial = self.form_values()
        self.notify("Réglages du serveur SMTP enregistrés.", title="Serveur SMTP")
        return True

    def _open_sign_in(self) -> None:
        from tuiapp.mail.smtp_client import SmtpSettings

        try:
            settings = SmtpSettings.from_association(Association.get_solo())
        except DATABASE_ERRORS as exc:
            self._say(plain(database_message(self, exc)))
            return
        self._say("")
        self.app.push_screen(SignInScreen(settings), self._sign_in_ended)

    def _sign_in_ended(self, outcome: SignInOutcome | None) -> None:
        if outcome is None or outcome.cancelled:
            self._say("Connexion annulée : rien n'a changé.")
        elif outcome.account is not None:
            self._say(markup("[green]Connecté à Office 365 : $account.[/]", account=outcome.account))
        else:
            self._say(markup("[red]Connexion échouée : $problem[/]", problem=outcome.problem))
        self.refresh_password_state()
