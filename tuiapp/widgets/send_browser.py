"""The sending tab's list, whole at 80 columns: the compact table, a search line, the detail lines.

Keys (on the table, none taken by the tab or the screen): ``/`` searches a name or an
invoice number, ``F3`` finds the next match, ``g`` the next invoice not yet mailed.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input

from tuiapp.widgets.form import FormInput
from tuiapp.widgets.send_detail import SendDetail
from tuiapp.widgets.send_table import SendTable


class SearchInput(FormInput):
    """The search line: Entrée goes to the first match, Échap closes it."""

    BINDINGS = [Binding("escape", "close", "Fermer la recherche", id="sending.search_close")]

    class Closed(Message):
        """Échap: the search is left."""

    def action_close(self) -> None:
        self.post_message(self.Closed())


class SendBrowser(Vertical):
    """The table, the search line under it (shown by ``/``) and the detail of the row under the cursor."""

    BINDINGS = [
        Binding("slash", "search", "Chercher", id="sending.search", key_display="/"),
        Binding("f3", "search_next", "Suivante (recherche)", id="sending.search_next", show=False),
        Binding("g", "next_unsent", "Prochaine non envoyée", id="sending.next_unsent", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="send-browser")
        self.searched = ""  # the last text searched: F3 looks for it again

    def compose(self) -> ComposeResult:
        yield SendTable(id="send-table")
        yield SearchInput(placeholder="Nom ou n° de facture, Entrée pour y aller, Échap pour fermer",
                          select_on_focus=False, id="send-search")
        yield SendDetail(id="send-detail")

    @property
    def table(self) -> SendTable:
        return self.query_one(SendTable)

    @on(SendTable.CurrentChanged)
    def _show_current(self, message: SendTable.CurrentChanged) -> None:
        self.query_one(SendDetail).show(message.row, message.state)

    def action_search(self) -> None:
        search = self.query_one(SearchInput)
        search.value = ""  # a new search each time (F3 finds the last one again)
        search.display = True
        search.focus()

    def close_search(self) -> None:
        self.query_one(SearchInput).display = False
        self.table.focus()

    @on(SearchInput.Closed)
    def _search_closed(self) -> None:
        self.close_search()

    @on(Input.Submitted, "#send-search")
    def _search(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        found = self.table.matches(text)
        if not found:
            self.notify(f"Aucune facture ne correspond à « {text} ».", severity="warning")
            return
        self.searched = text
        self.close_search()
        self.table.go_to(found[0])

    def action_search_next(self) -> None:
        if not self.searched:
            self.action_search()
            return
        found = self.table.next_match(self.searched)
        if found is None:
            self.notify(f"Aucune autre facture ne correspond à « {self.searched} ».")
        else:
            self.table.go_to(found)

    def action_next_unsent(self) -> None:
        found = self.table.next_unsent()
        if found is None:
            self.notify("Aucune autre facture à envoyer : toutes les autres ont été envoyées.")
        else:
            self.table.go_to(found)
