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

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter

__all__ = ["Footer"]


class Footer(TextualFooter):
    """The footer of every screen: the same look as Textual's, fewer rebuilds."""

    _drawn: tuple | None = None

    def _shown_keys(self) -> tuple:
        """What ``compose`` would draw, as a value to compare."""
        keys = tuple(
            (binding.key, binding.action, binding.description, binding.key_display, binding.group, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.action == "command_palette"
        )
        return keys, self.compact, self.show_command_palette

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        shown = self._shown_keys()
        if shown != self._drawn:
            self._drawn = shown
            await self.recompose()
