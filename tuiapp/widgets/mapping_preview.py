"""The first rows of an import file under its column mapping, where each column's field can be changed.

The table's headers read ``Column → Field`` (``→ (ignorée)`` for a column left
out). Left and right move between columns; Entrée (or the list below the table)
gives the highlighted column another field. A field goes to one column at most:
giving it to a column takes it from the one that had it. The parent is told by
``MappingPreview.Changed``.

Everything shown comes from the file: drawn through ``cell`` (never markup,
control characters replaced), each cell cut to the column's width.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, Select

from tuiapp.services.import_files import Table
from tuiapp.services.import_mapping import IGNORED, fields_for
from tuiapp.widgets.plain import cell, field_text

ROWS_SHOWN = 5
COLUMN_WIDTH = (6, 34)  # narrowest, widest (characters)
IGNORED_LABEL = "(ignorée)"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def fit_to_edge(widths: list[int], visible: int, padding: int) -> list[int]:
    """The widths, the column before the one the screen's edge would cut widened up to the edge:
    that one then starts past it, whole once scrolled to ("Date factu" was shown at 80 columns)."""
    fitted, x = list(widths), 0
    for index, width in enumerate(widths):
        if x < visible < x + width + padding:
            if index:
                fitted[index - 1] += visible - x
            break
        x += width + padding
    return fitted


class MappingPreview(Vertical):
    """The file's first rows, each column headed by the field it feeds."""

    class Changed(Message):
        """The operator gave a column another field (``mapping``: field name -> column index)."""

        def __init__(self, preview: MappingPreview, mapping: dict[str, int]) -> None:
            super().__init__()
            self.preview = preview
            self.mapping = mapping

        @property
        def control(self) -> MappingPreview:
            return self.preview

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.table: Table | None = None
        self.kind = "invoices"
        self.mapping: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield DataTable(id="preview", cursor_type="column", zebra_stripes=True)
        with Horizontal(id="column-row"):
            yield Label("Colonne", id="column-label")
            yield Select([], prompt=IGNORED_LABEL, id="column-field", compact=True, allow_blank=True)

    @property
    def labels(self) -> dict[str, str]:
        return {item.name: item.label for item in fields_for(self.kind)}

    def field_of(self, column: int) -> str | None:
        return next((name for name, index in self.mapping.items() if index == column), None)

    def spec(self) -> dict[str, str]:
        """The mapping as a profile saves it: {header: field name, or ``-`` for a column left out}."""
        if self.table is None:
            return {}
        return {header: self.field_of(column) or IGNORED for column, header in enumerate(self.table.headers)
                if header.strip()}

    def show(self, table: Table | None, kind: str, mapping: dict[str, int]) -> None:
        """Show ``table``'s first rows under ``mapping`` (None: nothing read)."""
        self.table, self.kind, self.mapping = table, kind, dict(mapping)
        choices = [(cell(f"{item.label}{' *' if item.required else ''}"), item.name) for item in fields_for(kind)]
        select = self.query_one("#column-field", Select)
        with select.prevent(Select.Changed):
            select.set_options(choices)
        self._draw(0)

    def _draw(self, column: int) -> None:
        grid = self.query_one(DataTable)
        grid.clear(columns=True)
        table = self.table
        if table is None:
            self._follow(None)
            return
        labels = self.labels
        rows = table.rows[:ROWS_SHOWN]
        titles, widths = [], []
        for index, header in enumerate(table.headers):
            name = self.field_of(index)
            title = f"{field_text(header)} → {labels[name] if name else IGNORED_LABEL}"
            longest = max([len(title), *(len(field_text(table.cell(row, index))) for row in rows)])
            titles.append((title, name))
            widths.append(min(max(longest, COLUMN_WIDTH[0]), COLUMN_WIDTH[1]))
        widths = fit_to_edge(widths, grid.scrollable_content_region.width, 2 * grid.cell_padding)
        for index, ((title, name), width) in enumerate(zip(titles, widths, strict=True)):
            style = "" if name else "dim"
            grid.add_column(Text(_cut(title, width), style=style or "bold", end=""), width=width, key=str(index))
        for row in rows:
            grid.add_row(*(cell(_cut(field_text(table.cell(row, index)), COLUMN_WIDTH[1]))
                           for index in range(len(table.headers))))
        if table.headers:
            grid.move_cursor(column=min(column, len(table.headers) - 1))
            self._follow(grid.cursor_column)

    def _follow(self, column: int | None) -> None:
        """The line under the table: the highlighted column, and its field in the list."""
        select = self.query_one("#column-field", Select)
        label = self.query_one("#column-label", Label)
        if column is None or self.table is None:
            label.update("Colonne")
            select.disabled = True
            return
        select.disabled = False
        header = field_text(self.table.headers[column]) if column < len(self.table.headers) else ""
        label.update(cell(f"Colonne {column + 1} « {_cut(header, 20)} » :"))
        name = self.field_of(column)
        with select.prevent(Select.Changed):
            select.value = name if name is not None else Select.NULL

    @on(DataTable.ColumnHighlighted, "#preview")
    def _column_moved(self, event: DataTable.ColumnHighlighted) -> None:
        event.stop()
        self._follow(event.cursor_column)

    @on(DataTable.ColumnSelected, "#preview")
    def _column_chosen(self, event: DataTable.ColumnSelected) -> None:
        """Entrée on a column: its field's list opens."""
        event.stop()
        select = self.query_one("#column-field", Select)
        if not select.disabled:
            select.focus()
            select.action_show_overlay()

    @on(Select.Changed, "#column-field")
    def _field_chosen(self, event: Select.Changed) -> None:
        event.stop()
        grid = self.query_one(DataTable)
        if self.table is None or not self.table.headers or not event.select.has_focus:
            return  # not the operator's choice: the list follows the highlighted column
        column = grid.cursor_column
        name = None if event.value is Select.NULL else str(event.value)
        self.set_field(column, name)
        grid.focus()  # back on the columns: the next one is a → away

    def set_field(self, column: int, name: str | None) -> None:
        """Give ``column`` the field ``name`` (None: the column is left out)."""
        if self.field_of(column) == name:
            return
        self.mapping = {field: index for field, index in self.mapping.items() if index != column and field != name}
        if name is not None:
            self.mapping[name] = column
        self._draw(column)
        self.post_message(self.Changed(self, dict(self.mapping)))

    def focus_table(self) -> None:
        self.query_one(DataTable).focus()
