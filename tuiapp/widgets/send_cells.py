"""How one invoice of the sending tab is drawn: check mark, state, dates, amounts."""

from __future__ import annotations

from rich.text import Text

from tuiapp.domain.formatting import departed_mark, format_amount, format_timestamp
from tuiapp.widgets.plain import cell

SHORT_STATES = {"sent": "envoyée", "partial": "partiel", "failed": "échec", "unknown": "inconnu",
                "sending": "en cours", "queued": "en attente", "other": "autre poste"}
STATE_STYLES = {"sent": "green", "partial": "yellow", "failed": "red", "unknown": "bold magenta",
                "sending": "cyan", "queued": "cyan", "other": "cyan"}


def check(selected: bool) -> Text:
    return Text("☑" if selected else "☐")


def state(name: str) -> Text:
    return Text(SHORT_STATES.get(name, ""), style=STATE_STYLES.get(name, ""))


def last_event(row) -> str:
    """The last mailing or, failing that, the last printing, and which."""
    if row.last_mailed_at:
        return f"mail {format_timestamp(row.last_mailed_at)}"
    if row.last_printed_at:
        return f"édité {format_timestamp(row.last_printed_at)}"
    return ""


def resident(row) -> Text:
    """The resident's name, marked when they have left (they are mailed all the same)."""
    return Text.assemble(cell(row.resident), (departed_mark(row.active), "italic"))


def row_cells(row, selected: bool, state_name: str) -> list:
    """The cells in the table's column order (people's text never read as markup)."""
    return [check(selected), resident(row), cell(row.number), format_amount(row.amount_ht),
            state(state_name), last_event(row), cell(row.email), cell(row.guardian_email)]


def duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds + 0.5), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
