"""Text from the data, on the screen: shown as typed, never read as markup or terminal codes.

Every text the TUI shows that comes from the database, a file, a server or an
exception passes through here:

- ``plain(value)``: a ``rich.text.Text`` for a ``Static``: Textual draws it as
  is (``[``, ``]`` and ``[/]`` included), where a ``str`` would be parsed as
  markup (a ``[@click=app.quit]`` would run an action, a stray ``[/]`` would
  crash the screen);
- ``cell(value)``: the same for a DataTable cell or a Select option, cut at
  ``CELL_MAX`` characters (more than any field's limit: a row written around
  validation with 100 KB would otherwise be measured on every redraw);
- ``markup(template, name=value)``: tuiapp's own markup (``[b]$name[/b]``)
  with the data substituted as plain text, never parsed;
- ``field_text(value)``: the text put in an ``Input`` or a ``TextArea``.

All of them replace control characters (ESC sequences, NUL, bidirectional
overrides, line separators) with U+FFFD (``tuiapp.domain.safe_text.printable``):
no terminal code of the data reaches the operator's terminal. Notifications go
through ``TuiApp.notify``, which does the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from rich.text import Text
from textual.content import Content

from tuiapp.domain.safe_text import printable

#: The longest text a list cell shows (every field's limit is below it).
CELL_MAX = 300


def field_text(value: object, *, multiline: bool = False) -> str:
    """A value for an ``Input`` (one line) or a ``TextArea`` (``multiline``); ``None`` is empty."""
    return printable("" if value is None else value, multiline=multiline)


def plain(value: object, *, style: str = "", multiline: bool = False) -> Text:
    """A text drawn exactly as it is, never parsed as markup (``None`` is empty)."""
    return Text(field_text(value, multiline=multiline), style=style, end="")


def cell(value: object, *, style: str = "") -> Text:
    """A DataTable cell or a Select option: ``plain``, cut after ``CELL_MAX`` characters."""
    text = "" if value is None else str(value)
    return plain(text if len(text) <= CELL_MAX else text[:CELL_MAX] + "…", style=style)


def markup(template: str, **values: object) -> Content:
    """``template`` is tuiapp's own markup; each ``$name`` is replaced by ``values[name]``
    as plain text (control characters replaced, line feeds kept)."""
    return Content.from_markup(template, **{name: field_text(value, multiline=True) for name, value in values.items()})


V = TypeVar("V")


def options(choices: Iterable[tuple[object, V]]) -> list[tuple[Text, V]]:
    """``(label, value)`` pairs for a ``Select``, the labels never parsed as markup."""
    return [(cell(label), value) for label, value in choices]
