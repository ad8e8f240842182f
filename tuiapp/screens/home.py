"""The home screen: which association and database, and where the months stand."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from tuiapp.db.models import Association, Resident, Structure
from tuiapp.domain.formatting import counted, period_label
from tuiapp.widgets.db_errors import reports_database_errors
from tuiapp.widgets.footer import Footer
from tuiapp.widgets.plain import markup

if TYPE_CHECKING:
    from tuiapp.app import TuiApp

#: On a base whose association has no name yet: where to give it one.
UNNAMED = ("[b]L'association n'a pas encore de nom.[/b]\nRenseignez son nom, son adresse, son SIRET et son IBAN : "
           "Structures (s), puis Association (a) ; ou Ctrl+P, « Association ».")


#: What the overview shows until it has been read (the screen is drawn first: never a wrong figure).
NOT_READ_YET = "…"


class HomeScreen(Screen[None]):
    """What an operator sees first: its menu and keys at once, its figures a moment later.

    The figures (counts, periods, invoices waiting) are read just after the first frame, on the
    event loop (their reads and babel's French data: about 30 ms), so that the screen is not
    held back by them; « … » until then. ``overview_read`` says when they have been read.
    """

    CSS_PATH = "home.tcss"
    BINDINGS = [
        Binding("c", "app.contributions", "Contributions", id="home.contributions"),
        Binding("s", "app.structures", "Structures", id="home.structures"),
        Binding("r", "app.residents", "Résidents", id="home.residents"),
        Binding("i", "app.imports", "Import", id="home.import"),
        Binding("m", "app.smtp", "SMTP", id="home.smtp"),  # short: every screen key fits at 80 columns
        Binding("q", "app.leave_app", "Quitter", id="home.quit", show=False),  # and Ctrl+Q: in F1, not at 80 columns
    ]

    def __init__(self) -> None:
        super().__init__()
        #: The overview has been read once (its figures, or the notice of a database error).
        self.overview_read = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="home"):
            yield Static(NOT_READ_YET, id="association", markup=False)
            yield Static(id="waiting")
            yield Static(id="counts")
            yield Static(id="periods")
        yield Footer()

    def on_screen_resume(self) -> None:
        """When pushed, and when the operator comes back: read once each time. The first
        time, once the screen is drawn; coming back, before (the figures shown may have changed)."""
        if self.overview_read:
            self.refresh_overview()
        else:
            self.call_after_refresh(self.refresh_overview)

    def refresh_overview(self) -> None:
        """Read the figures and show them; a database error is said, and what was read stays."""
        try:
            self._show_overview()
        finally:
            self.overview_read = True

    @reports_database_errors
    def _show_overview(self) -> None:
        association = Association.get_solo()
        self.query_one("#association", Static).update(
            markup("[b]$name[/b]\n$address", name=association.name, address=association.address)
            if association.name else markup(UNNAMED)
        )
        structures = Structure.select().count()
        residents = Resident.select().where(Resident.active).count()
        self.query_one("#counts", Static).update(
            markup(f"{counted(structures, 'structure', 'structures')}, "
                   f"{counted(residents, 'résident actif', 'résidents actifs')}\nBase : $path",
                   path=cast("TuiApp", self.app).db_path)
        )
        self.query_one("#periods", Static).update(self._periods_text())
        waiting = self._waiting_text()
        self.query_one("#waiting", Static).update(waiting)
        self.query_one("#waiting", Static).display = bool(waiting)

    def _waiting_text(self) -> str:
        """The invoices left waiting (``en attente``) that nobody is sending: in local mode, those of
        an interrupted send (``outbox.left_waiting_by_period``; a batch still moving is only said
        waiting, not interrupted); in service mode, only while the sender service does not answer."""
        from tuiapp.db import heartbeat
        from tuiapp.sending import outbox

        service = cast("TuiApp", self.app).service_mode
        if service:
            beat = heartbeat.last()
            if beat is not None and not beat.stale():
                return ""  # the service takes them up
        left = [] if service else outbox.left_waiting_by_period()
        waiting = left or outbox.waiting_by_period()
        if not waiting:
            return ""
        total = sum(count for _, count in waiting)
        invoices = "1 facture" if total == 1 else f"{total} factures"
        periods = ", ".join(f"{period_label(period)} : {count}" for period, count in waiting[:4])
        if len(waiting) > 4:
            periods += ", …"
        if service:
            return (f"[b]{invoices} en attente[/b] ({periods}) : le service d'envoi ne répond pas. "
                    "Voyez « tuiapp server check » ou votre administrateur.")
        if not left:  # a send in progress (another workstation, « tuiapp send »), or just stopped
            return (f"[b]{invoices} en attente d'envoi[/b] ({periods}) : un envoi est en cours (ce poste, un autre "
                    "ou « tuiapp send ») ou vient de s'arrêter.")
        word = "laissée par un envoi interrompu" if total == 1 else "laissées par un envoi interrompu"
        return (f"[b]{invoices} en attente[/b], {word} ({periods}). Pour les envoyer : "
                "[b]c[/b] (Contributions), la période ([b]-[/b] et [b]+[/b]), puis [b]e[/b] (Envoi par mail) : elles y sont cochées.")

    @staticmethod
    def _periods_text() -> str:
        from tuiapp.db import queries  # (after the first frame)

        periods = queries.periods_with_invoices()[:3]
        if not periods:
            return "Aucune facture de contribution dans cette base."
        lines = ["[b]Dernières périodes facturées[/b]"]
        for period in periods:
            overview = queries.period_overview(period)
            line = (
                f"{period_label(period)} : {overview.documents('factures')}, dont "
                f"{overview.to_mail} à envoyer par mail ({overview.mailed} déjà envoyées), "
                f"{overview.without_address} sans adresse"
            )
            lines.append(line)
        return "\n".join(lines)
