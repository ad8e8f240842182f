"""Service mode in the sending tab: the words of the sender service's state and of where the
operator's queued invoices stand (``tuiapp.sending.service_watch``).

Only wording: the panel (``tuiapp.screens.sending``) draws them. Moved out of it.
"""

from __future__ import annotations

from rich.text import Text

from tuiapp.domain.formatting import counted
from tuiapp.domain.status import SendStatus
from tuiapp.sending.service_watch import RecordState, ServiceView
from tuiapp.widgets.plain import plain
from tuiapp.widgets.send_detail import queue_places


def service_line(text: str, config) -> Text:
    """The service's state, and the pace root set in the app's ``config`` (messages per minute,
    for everybody)."""
    rate = config.smtp.rate_per_minute if config is not None and config.smtp is not None else 0
    running = text.startswith("Service d'envoi en marche")
    pace = f" Rythme : {rate} messages/min." if rate and running else ""  # within 78 columns
    return plain(text + pace)


def finished_line(state: RecordState) -> str | None:
    """The log line of an invoice the service has dealt with (none while it waits or is sent)."""
    if state.status not in SendStatus.finished():
        return None
    suffix = f" ({state.error})" if state.error and state.status != SendStatus.SENT else "."
    return f"Facture {state.number} ({state.resident}) : {state.status.label}{suffix}"


def places(view: ServiceView) -> dict[int, int]:
    """The queue places of the invoices still waiting (``send_detail.queue_places``)."""
    return queue_places(view.ahead, [(state.record_id, state.invoice_id)
                                     for state in view.states if state.status == SendStatus.QUEUED])


def waiting_text(view: ServiceView) -> str:
    """How many invoices of anybody are queued before the operator's (none: "")."""
    return f" ; {counted(view.ahead, 'facture', 'factures')} avant les vôtres dans la file" if view.ahead else ""
