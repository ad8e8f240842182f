"""Textual's footer, redrawn only when the keys it shows change.

Textual's ``Footer`` rebuilds every key widget each time a screen's bindings
are refreshed: at every focus move, and at every cursor move of a list whose
actions depend on the row. Most of those refreshes leave the same keys
enabled. Each rebuild costs about 2 ms of CPU (a dozen widgets styled), and
profiling the test walks showed it at 11 % of all the CPU they spent
(2026-12-03, 5.8 s of 51 s), a cost each operator's session on the shared
server pays on every key too. This footer keeps what it drew and rebuilds only
when the shown keys, their labels or their enabled state differ.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

from tuiapp.widgets.textual_words import in_french

__all__ = ["Footer"]


class Footer(TextualFooter):
    """The footer of every screen: the same look as Textual's, fewer rebuilds."""

    _drawn: tuple | None = None  # what the last ``compose`` drew

    def _shown_keys(self) -> tuple:
        """What ``compose`` would draw, as a value to compare."""
        active = self.screen.active_bindings
        keys = tuple(
            (binding.key, binding.action, binding.description, binding.key_display, binding.group, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in active.values()
            if binding.show
        )
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)  # drawn whatever its action
        palette_key = palette and (palette[1].action, palette[1].description, palette[2], palette[3])
        return keys, palette_key, self.compact, self.show_command_palette, self.app.size.width

    def __init__(self, *args, compact: bool = True, **kwargs) -> None:
        super().__init__(*args, compact=compact, **kwargs)

    def compose(self) -> ComposeResult:
        # Recorded as it is drawn: keys that change while the old ones are removed, then change back,
        # are compared with what is on screen, not with what was asked for.
        self._drawn = self._shown_keys() if self._bindings_ready else None
        yield from fitted(list(super().compose()), self.app.size.width)

    def on_resize(self) -> None:
        self.call_after_refresh(self._recompose_if_changed)

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._shown_keys() != self._drawn:
            await self.recompose()


#: The key that stays when the others do not fit: it lists them all (F1).
HELP_ACTION = "help"


def _width(key: FooterKey) -> int:
    """Its columns in the compact footer: the key, then a space and the description."""
    return len(key.key_display) + (1 + len(key.description) if key.description else 0)


def fitted(widgets: list[Widget], width: int) -> list[Widget]:
    """The footer's keys that fit in ``width`` columns, whole: never a cut word ("q Quitt").

    Textual's own descriptions are put in French. Two spaces between keys, one
    if two do not fit. Then, when the keys still do not fit, the palette's key
    goes first (Ctrl+P is in F1), then the screen's last keys, but F1 Aide
    stays: it lists every key. A footer that has something else than keys (a
    group of keys) is left as Textual drew it.
    """
    if not all(isinstance(widget, FooterKey) for widget in widgets):
        return widgets
    keys = [widget for widget in widgets if isinstance(widget, FooterKey)]
    for key in keys:
        key.description = in_french(key.description)
    palette = [key for key in keys if key.has_class("-command-palette")]
    shown = [key for key in keys if key not in palette]

    def used(gap: int) -> int:  # the palette's key is docked right, after its bar
        return sum(_width(key) for key in shown) + gap * max(len(shown) - 1, 0) + sum(
            2 + _width(key) for key in palette)

    gap = 2 if used(2) <= width else 1
    if used(gap) > width:
        palette = []
    while used(gap) > width:
        droppable = [key for key in shown if key.action.removeprefix("app.") != HELP_ACTION]
        if not droppable:
            break
        shown.remove(droppable[-1])
    for key in shown:
        key.styles.margin = (0, gap, 0, 0)
    return [*shown, *palette]
