"""The sending tab's log: one time-stamped line per step of a send, kept as text too.

The send's lines are noted (``pending``) as its events come, and drawn together
(``draw``) at the tab's next tick. Moved out of ``tuiapp.screens.sending``.
"""

from __future__ import annotations

from datetime import datetime

from textual.widgets import RichLog

from tuiapp.widgets.plain import plain


class SendLog(RichLog):
    """The log of the sending tab (``#log``): ``texts`` holds every line drawn, as plain text."""

    def __init__(self) -> None:
        super().__init__(id="log", wrap=True, markup=False)
        self.texts: list[str] = []
        self.pending: list[str] = []  # the send's log lines, drawn at the next tick

    def draw(self) -> None:
        """The pending lines, each with the time it is drawn."""
        for text in self.pending:
            line = plain(f"{datetime.now():%H:%M:%S}  {text}", multiline=True)
            self.texts.append(line.plain)
            self.write(line)
        self.pending.clear()
