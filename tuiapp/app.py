"""The Textual application and its factory, shared by the CLI and the tests."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tuiapp.db.database import open_database
from tuiapp.db.models import Association
from tuiapp.domain.db_target import DatabaseTarget, PostgresTarget
from tuiapp.domain.formatting import counted
from tuiapp.domain.roles import Action, Role, refusal
from tuiapp.screens.home import HomeScreen
from tuiapp.sending import recovery
from tuiapp.system_config import SystemConfig
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_problem, reports_database_errors
from tuiapp.widgets.keys import key_name


class TuiApp(App[None]):
    """tuiapp's terminal interface, on one open database."""

    TITLE = "tuiapp"
    # The home screen's sheet is read with the app's: pushed first, it would have every sheet parsed again (4 ms).
    CSS_PATH = ["app.tcss", "screens/home.tcss"]
    BINDINGS = [
        Binding("f1", "help", "Aide", id="app.help"),
        Binding("ctrl+q", "leave_app", "Quitter", id="app.quit", show=False, priority=True),
    ]

    def __init__(self, db_path: DatabaseTarget, *, service_mode: bool = False, role: Role = Role.ADMIN,
                 config: SystemConfig | None = None) -> None:
        super().__init__()
        self.db_path: DatabaseTarget = db_path if isinstance(db_path, PostgresTarget) else Path(db_path)
        #: On the association's server: a sender service sends, the screens queue and follow it.
        self.service_mode = service_mode
        #: What this account may do (``tuiapp.domain.roles``): the screens disable the rest and say why.
        self.role = role
        #: The server's configuration (service mode: where the SMTP secret goes), or None.
        self.config = config

    @property
    def print_dir(self) -> Path | None:
        """On the association's server: the shared print folder (never a home directory)."""
        return self.config.print_dir if self.service_mode and self.config is not None else None

    def refusal(self, action: Action) -> str | None:
        """None when this account may; otherwise why not, in French."""
        return refusal(self.role, action)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every notification of tuiapp, from any screen or thread (``Widget.notify`` comes here):
        never parsed as markup, whatever ``markup`` says, its control characters replaced. A
        message may quote an invoice number, a name, a server's reply."""
        from tuiapp.widgets.plain import field_text

        super().notify(field_text(message, multiline=True), title=field_text(title), severity=severity,
                       timeout=timeout, markup=False)

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        """Every key, footer click and palette command comes here: an action refused to this
        account (a dimmed key, see ``tuiapp.widgets.rights``) says why instead of doing nothing."""
        target, name, _ = self._parse_action(action, self if default_namespace is None else default_namespace,
                                             namespaces)
        refused = getattr(target, "refused", None)
        reason = refused(name) if callable(refused) else None
        if reason:
            from tuiapp.widgets.rights import refuse

            refuse(self, reason)
            return True
        return await super().run_action(action, default_namespace, namespaces)

    def on_mount(self) -> None:
        from tuiapp.widgets.plain import field_text

        # the file's name (the full path is on the home screen), or the PostgreSQL base's
        self.sub_title = field_text(self.db_path.name)
        try:
            self.title = field_text(Association.get_solo().name) or "tuiapp"
            interrupted = recovery.recover_interrupted()
        except DATABASE_ERRORS as exc:  # locked, read-only, damaged: said, and the app still opens
            database_problem(self, exc)
            interrupted = []
        if interrupted:
            numbers = ", ".join(record.invoice.number for record in interrupted[:5])
            self.notify(
                f"{counted(len(interrupted), 'envoi interrompu', 'envois interrompus')} lors d'une session précédente "
                f"({numbers}) : "
                "état inconnu, le message est peut-être parti. Rien ne sera renvoyé sans votre décision.",
                title="Envois interrompus", severity="warning", timeout=30,
            )
        # Pushed rather than returned by get_default_screen(): a default screen's
        # CSS_PATH is not loaded (seen with Textual 8.2).
        self.push_screen(HomeScreen())

    # -- navigation -----------------------------------------------------------

    def _leave_then(self, screens, then) -> None:
        """Run ``then`` after leaving ``screens``, asking first if one of them says something
        would be lost (its ``leave_warning()``: unsaved changes, a send under way)."""
        warnings = (getattr(screen, "leave_warning", lambda: None)() for screen in screens)
        question = next((warning for warning in warnings if warning), None)
        if question is None:
            then()
            return
        from tuiapp.widgets.form import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                then()  # a screen's send is interrupted as it closes (the rest stays queued)

        self.push_screen(ConfirmScreen(question), answered)

    def action_leave_screen(self) -> None:
        """Close the current screen, asking first if it says something would be lost."""
        self._leave_then([self.screen], self.pop_screen)

    def _pop_to(self, depth: int) -> None:
        while len(self.screen_stack) > depth:
            self.pop_screen()

    @reports_database_errors  # a screen reads the database as it is built
    def _open(self, screen_type: type[Screen]) -> None:
        """Show a screen of this type, going back to it if it is already open."""
        for index, screen in enumerate(self.screen_stack):
            if isinstance(screen, screen_type):
                self._leave_then(self.screen_stack[index + 1 :], partial(self._pop_to, index + 1))
                return
        self.push_screen(screen_type())

    def action_home(self) -> None:
        self._leave_then(self.screen_stack[2:], lambda: self._pop_to(2))

    def action_leave_app(self) -> None:
        self._leave_then(self.screen_stack[1:], self.exit)

    def action_help(self) -> None:
        from tuiapp.widgets.help import HelpScreen, keys_of

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(keys_of(self.screen, self)))

    def action_contributions(self) -> None:
        from tuiapp.screens.contributions import ContributionsScreen

        self._open(ContributionsScreen)

    def action_structures(self) -> None:
        from tuiapp.screens.structures import StructuresScreen

        self._open(StructuresScreen)

    def action_residents(self) -> None:
        from tuiapp.screens.residents import ResidentsScreen

        self._open(ResidentsScreen)

    def action_imports(self) -> None:
        from tuiapp.screens.imports import ImportScreen

        self._open(ImportScreen)

    def action_smtp(self) -> None:
        from tuiapp.screens.smtp import SmtpScreen

        if not isinstance(self.screen, SmtpScreen):
            self._push(SmtpScreen)

    def action_association(self) -> None:
        from tuiapp.screens.association import AssociationScreen

        self._open(AssociationScreen)

    @reports_database_errors
    def _push(self, screen_type: type[Screen]) -> None:
        self.push_screen(screen_type())

    def get_key_display(self, binding: Binding) -> str:
        """The footer's key names in French (``Échap``, ``Maj+Tab``; Ctrl as ``^``)."""
        from tuiapp.widgets.keys import short_key_name

        return binding.key_display or short_key_name(binding.key)

    def action_command_palette(self) -> None:
        """Textual's palette, its placeholder and keys in French."""
        from textual.command import CommandPalette

        from tuiapp.widgets.palette import FrenchCommandPalette

        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(FrenchCommandPalette())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p), in French: every screen, then the current screen's actions.

        A screen's key for an app-wide command (Structures, Quitter...) is not listed a second time."""
        listed = list(self._app_commands())
        yield from listed
        names = {command.title for command in listed}
        actions = {getattr(command.callback, "__name__", "") for command in listed}
        seen = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.id or not binding.description or binding.id in seen or binding.id.startswith("app."):
                continue
            if binding.description in names or _app_action(binding.action) in actions:
                continue
            seen.add(binding.id)
            yield SystemCommand(
                binding.description,
                f"Sur cet écran (touche {key_name(binding.key)})",
                partial(self.run_action, binding.action, active.node),
            )

    def _app_commands(self) -> Iterable[SystemCommand]:
        """The app-wide commands: every screen, help, quit."""
        yield SystemCommand("Accueil", "Revenir à l'écran d'accueil", self.action_home)
        yield SystemCommand("Édition des contributions", "Traitements : imprimer et envoyer les factures d'une période",
                            self.action_contributions)
        yield SystemCommand("Structures", "Gestion des structures et de leur onglet Mail", self.action_structures)
        yield SystemCommand("Résidents", "Liste et fiches des résidents, leurs adresses", self.action_residents)
        yield SystemCommand("Import", "Importer les résidents ou les factures du logiciel de facturation (CSV, XLSX)",
                            self.action_imports)
        yield SystemCommand("Serveur SMTP", "Serveur de courrier sortant de l'association", self.action_smtp)
        yield SystemCommand("Association", "Nom, adresse, SIRET, IBAN et conditions de paiement de l'association",
                            self.action_association)
        yield SystemCommand("Aide", "Les touches de l'écran (F1)", self.action_help)
        yield SystemCommand("Quitter", "Quitter tuiapp (Ctrl+Q)", self.action_leave_app)


    def _fatal_error(self) -> None:
        """Exit after an unhandled exception, printing its traceback *without* local variables.

        Textual's own ``App._fatal_error`` (8.x) prints a rich Traceback with
        ``show_locals=True``: the values of every frame's variables, a password
        typed in the SMTP window among them. Same behaviour otherwise. Python's
        own ``sys.excepthook`` (for the CLI) never prints local variables.
        """
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()


def _app_action(action: str) -> str:
    """The method an ``app.`` action runs (``app.smtp`` → ``action_smtp``), or ""."""
    return f"action_{action.removeprefix('app.')}" if action.startswith("app.") else ""


def create_app(db_path: DatabaseTarget, *, create: bool = True, service_mode: bool = False, role: Role = Role.ADMIN,
               config: SystemConfig | None = None) -> TuiApp:
    """Open the database (schema brought up to date) and build the app on it."""
    open_database(db_path, create=create)
    return TuiApp(db_path, service_mode=service_mode, role=role, config=config)
