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
from textual.widgets import Footer as TextualFooter

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
        return keys, palette_key, self.compact, self.show_command_palette

    def compose(self) -> ComposeResult:
        # Recorded as it is drawn: keys that change while the old ones are removed, then change back,
        # are compared with what is on screen, not with what was asked for.
        self._drawn = self._shown_keys() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._shown_keys() != self._drawn:
            await self.recompose()
