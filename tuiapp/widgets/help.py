"""F1: every key of the current screen and of the app, in French, in a scrollable window."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tuiapp.widgets.keys import key_name
from tuiapp.widgets.mail_text import MAIL_TEXT_KEYS, ONE_LINE_KEYS, MailTextArea


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Fermer", id="help.close")]

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _ in self.lines), default=4) + 2
        text = "\n".join(f"{key.ljust(width)}{description}" for key, description in self.lines)
        with VerticalScroll(id="help-box"):
            yield Static("[b]Touches de cet écran[/b]  (Échap pour fermer)")
            yield Static(text, markup=False, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)


#: Keys that every screen shares, named in French (Textual's own bindings have no id: never listed).
COMMON_KEYS = [
    ("Ctrl+P", "Palette : tous les écrans par leur nom"),
    ("↑ ↓ Pg préc Pg suiv", "Se déplacer dans une liste"),
    ("Tab, Maj+Tab", "Champ suivant, précédent"),
]


def keys_of(screen, app) -> list[tuple[str, str]]:
    """tuiapp's active bindings (they all have an id; Textual's own, in English, have none), each
    description once with all its keys ("q, Ctrl+Q  Quitter"), the keys named in French."""
    keys: dict[str, list[str]] = {}
    seen = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.id or not binding.description or binding.id in seen:
            continue
        seen.add(binding.id)
        shown = binding.key_display or key_name(binding.key)
        names = keys.setdefault(binding.description, [])
        if shown not in names:
            names.append(shown)
    lines = [(", ".join(names), description) for description, names in keys.items()] + COMMON_KEYS
    if screen.query(MailTextArea):  # the mail's text: its keys differ from the one-line fields'
        lines += MAIL_TEXT_KEYS
    if screen.query(Input):
        lines += ONE_LINE_KEYS
    return lines
