"""Se connecter: the Office 365 sign-in with a device code (method oauth2-device), in a modal.

The window asks the identity provider for a code (in a thread), shows the
address and the code to type on a phone or a computer, with the mailbox to
sign in with and the code's remaining time, then waits (in a thread) for the
person to sign in. Échap cancels at once: the waiting thread sees the
cancellation at its next pause and stops asking. What the provider sends
(the code, the address, the account) is shown as plain text, never markup.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiapp.domain.formatting import format_duration
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.plain import markup

if TYPE_CHECKING:
    from textual.timer import Timer

    from tuiapp.mail.identity import SignIn
    from tuiapp.mail.secret_store import SecretStore
    from tuiapp.mail.smtp_client import SmtpSettings


@dataclass(frozen=True)
class SignInOutcome:
    """How the window ended: signed in as ``account``, or a ``problem`` (French), or cancelled."""

    account: str | None = None
    problem: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.account is None and self.problem is None


class SignInScreen(ModalScreen[SignInOutcome]):
    CSS_PATH = "sign_in.tcss"
    BINDINGS = [  # one key, named for what it does: before a problem it cancels, after it closes
        Binding("escape", "cancel", "Annuler", id="sign-in.cancel"),
        Binding("escape", "close", "Fermer", id="sign-in.close"),
    ]

    def __init__(self, settings: SmtpSettings, store: SecretStore | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        #: Set by Échap (or when the window goes away): the waiting thread stops asking.
        self.cancel = threading.Event()
        #: Set when the thread has ended, whatever the way.
        self.finished = threading.Event()
        self.expires_at: float | None = None
        self.problem: str | None = None
        self._countdown: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="sign-in"):
            yield Static("[b]Connexion Office 365[/b]", id="sign-in-title")
            yield Static("Demande d'un code de connexion...", id="sign-in-code")
            yield Static(markup("Connectez-vous avec la boîte : [b]$mailbox[/b]", mailbox=self.settings.username),
                         id="sign-in-mailbox")
            yield Static("", id="sign-in-countdown")
            yield Static("", id="sign-in-problem")
        yield Footer()

    def on_mount(self) -> None:
        self._app = self.app  # the thread reaches the app through this, the window being gone or not
        self.sign_in()

    def on_unmount(self) -> None:
        self.cancel.set()  # the app quits, or the window was closed: the thread stops asking

    @work(thread=True, group="sign-in", exit_on_error=False)
    def sign_in(self) -> None:
        from tuiapp.mail import identity_problems as ip
        from tuiapp.mail.identity import TokenSource
        from tuiapp.mail.secret_store import KeyringStore
        from tuiapp.mail.secrets import SecretStoreError

        try:
            source = TokenSource(self.settings, self.store if self.store is not None else KeyringStore())
            started = source.start_sign_in()
            self._from_thread(self._show_code, started)
            account = source.finish_sign_in(started, cancel=self.cancel)
        except ip.SignInCancelled:
            return
        except (ip.IdentityProblem, SecretStoreError) as problem:
            self._from_thread(self._failed, str(problem))
        except Exception as exc:  # never a window waiting for nothing
            self._from_thread(self._failed, f"Échec inattendu ({type(exc).__name__}).")
        else:
            self._from_thread(self._signed_in, account)
        finally:
            self.finished.set()

    def _from_thread(self, callback, *args) -> None:
        if self.cancel.is_set():  # the window is closed: nothing to show
            return
        try:
            self._app.call_from_thread(callback, *args)
        except RuntimeError:  # the app has ended
            pass

    def _show_code(self, started: SignIn) -> None:
        if self.cancel.is_set():
            return
        self.expires_at = started.expires_at
        self.query_one("#sign-in-code", Static).update(markup(
            "Sur un téléphone ou un ordinateur, ouvrez l'adresse\n\n    [b]$uri[/b]\n\net saisissez le code :"
            "\n\n    [b reverse] $code [/]",
            uri=started.verification_uri, code=started.user_code))
        self._tick()
        self._countdown = self.set_interval(1.0, self._tick)

    def remaining(self) -> float | None:
        return None if self.expires_at is None else max(0.0, self.expires_at - time.time())

    def _tick(self) -> None:
        left = self.remaining()
        if left is None:
            return
        self.query_one("#sign-in-countdown", Static).update(
            f"Code valable encore {format_duration(left)}" if left > 0 else "Code expiré.")

    def _stop_countdown(self) -> None:
        if self._countdown is not None:
            self._countdown.stop()
            self._countdown = None

    def _failed(self, problem: str) -> None:
        if self.cancel.is_set():  # closed meanwhile
            return
        self.problem = problem
        self._stop_countdown()
        self.query_one("#sign-in-countdown", Static).display = False
        line = self.query_one("#sign-in-problem", Static)
        line.update(markup("[red]Échec : $problem[/]\nÉchap pour fermer, puis Ctrl+L pour recommencer.",
                           problem=problem))
        line.display = True
        self.refresh_bindings()

    def _signed_in(self, account: str) -> None:
        if self.cancel.is_set():  # closed meanwhile: the SMTP window reads the state again anyway
            return
        self._stop_countdown()
        self.dismiss(SignInOutcome(account=account))

    def check_action(self, action: str, parameters) -> bool | None:
        if action in ("cancel", "close"):
            return (action == "close") == (self.problem is not None)
        return True

    def action_cancel(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.cancel.set()
        self._stop_countdown()
        self.dismiss(SignInOutcome(problem=self.problem))
