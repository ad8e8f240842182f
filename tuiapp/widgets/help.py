"""F1: every key of the current screen and of the app, in French, in a scrollable window."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


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


def keys_of(screen, app) -> list[tuple[str, str]]:
    """tuiapp's active bindings (they all have an id; Textual's own, in English, have none)."""
    seen, lines = set(), []
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.id or not binding.description or binding.id in seen:
            continue
        seen.add(binding.id)
        lines.append((app.get_key_display(binding), binding.description))
    lines += [
        ("ctrl+p", "Palette de commandes : tous les écrans par leur nom"),
        ("ctrl+q", "Quitter tuiapp"),
        ("↑ ↓ pgup pgdn", "Se déplacer dans une liste"),
        ("tab shift+tab", "Champ suivant, précédent"),
    ]
    return lines
