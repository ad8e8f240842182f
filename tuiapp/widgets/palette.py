"""Textual's command palette in French: its placeholder and its keys' descriptions."""

from __future__ import annotations

from textual.binding import Binding
from textual.command import CommandPalette

PLACEHOLDER = "Rechercher une commande ou un écran…"


class FrenchCommandPalette(CommandPalette):
    """The palette (Ctrl+P), its words in French; the keys stay Textual's."""

    BINDINGS = [
        Binding("ctrl+end, shift+end", "command_list('last')", "Aller à la dernière", show=False),
        Binding("ctrl+home, shift+home", "command_list('first')", "Aller à la première", show=False),
        Binding("down", "cursor_down", "Commande suivante", show=False),
        Binding("escape", "escape", "Fermer la palette"),
        Binding("pagedown", "command_list('page_down')", "Page suivante", show=False),
        Binding("pageup", "command_list('page_up')", "Page précédente", show=False),
        Binding("up", "command_list('cursor_up')", "Commande précédente", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(placeholder=PLACEHOLDER, id="--command-palette")
