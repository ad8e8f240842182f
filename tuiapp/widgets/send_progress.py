"""The sending tab's progress line: what the running send has done, and what it waits for.

It follows the send's events (``follow``) and says, at any moment (``text(now)``), the
invoices processed out of the batch's, the time left counting down, and the pause under
way: the pace of the server's messages per minute (« prochain message dans 12 s ») or a
server that does not answer (« serveur injoignable, nouvel essai dans 18 s »). The panel
redraws it from a timer (four times a second), so that a pause of 40 s never looks frozen.
No Textual here: ``now`` is the monotonic clock's, given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuiapp.domain.formatting import format_wait, plural
from tuiapp.mail.problems import ServerUnreachable, TransientFailure
from tuiapp.sending import events as ev
from tuiapp.widgets.send_cells import InvoiceStep

#: The label's columns beside the bar in an 80-column terminal (the panel gives the label's own
#: width once laid out): every line fits it with 3-digit counts (tests/test_sending_panel.py).
WIDTH = 64


@dataclass
class RunProgress:
    """Where one run of the sending tab stands (its counts, and the pause under way)."""

    total: int = 0
    done: int = 0
    started_at: float = 0.0
    interval: float = 0.0  # seconds per message at the server's limit: the time left is never shorter
    estimate: float = 0.0  # seconds left, as estimated at ``estimated_at``
    estimated_at: float = 0.0
    waiting_until: float | None = None  # the end of the pause under way
    waiting_for: str = ""  # what the pause is: « prochain message » or a retry's reason
    retrying: bool = False  # the pause is a retry's: the server does not answer, the time left is unknown
    ended: str = ""  # "stopped" (the rest stays queued) or "cancelled" (withdrawn); "" while it runs or when complete
    remaining: int = 0  # stopped: how many stay queued

    def start(self, total: int, now: float, interval: float = 0.0) -> None:
        self.total, self.done, self.started_at, self.interval = total, 0, now, interval
        self.estimate, self.estimated_at, self.waiting_until, self.waiting_for, self.ended = 0.0, now, None, "", ""

    def follow(self, event: object, now: float) -> bool:
        """Take an event in; True when it changes the count (the bar moves)."""
        match event:
            case ev.BatchStarted(total=total):
                self.total = total
            case ev.PacingWait(delay=delay):
                self._wait(delay, now, "prochain message dans {}")
            case ev.RetryScheduled(problem=problem, delay=delay) if delay > 0:
                self._wait(delay, now, f"{_retry_reason(problem)}, nouvel essai dans {{}}", retrying=True)
            case ev.BatchFinished(cancelled=cancelled, interrupted=interrupted, stopped=stopped):
                self.waiting_until, self.remaining = None, event.remaining
                if cancelled:
                    self.ended = "cancelled"
                elif interrupted or stopped is not None:
                    self.ended = "stopped"
            case ev.InvoiceClaimed():
                self.waiting_until = None
            case _ if isinstance(event, InvoiceStep):  # the invoice's outcome: one more processed
                self.done += 1
                self.waiting_until = None
                self._estimate(now)
                return True
        return False

    def _wait(self, delay: float, now: float, what: str, *, retrying: bool = False) -> None:
        self.waiting_until, self.waiting_for, self.retrying = now + delay, what, retrying

    def _estimate(self, now: float) -> None:
        left = max(self.total - self.done, 0)
        seconds = (now - self.started_at) / self.done * left if self.done else 0.0
        seconds = max(seconds, left * self.interval)
        self.estimate, self.estimated_at = seconds, now

    def count_text(self) -> str:
        """``30/101 traitées``."""
        return f"{self.done}/{self.total} {plural(self.done, 'traitée', 'traitées')}"

    def text(self, now: float, width: int = WIDTH) -> str:
        """``30/101 traitées, prochain message dans 12 s, reste 2 min 10 s``: within ``width``, the
        columns the label has beside the bar; the waits count down. While a retry waits (the server
        does not answer) the time left is not said: unknown, and the line would not fit at 80
        columns; during the pace's pause it is said when it fits (a pause of a minute and hours
        left do not)."""
        count = self.count_text()
        if self.ended == "stopped":
            return f"Envoi arrêté : {count}, {self.remaining} en attente"
        if self.ended == "cancelled":
            return f"Envoi annulé : {count}"
        pause = self.waiting_until - now if self.waiting_until is not None else 0.0
        if pause > 0:
            line = f"{count}, {self.waiting_for.format(format_wait(pause))}"
            if self.retrying or not self._left():
                return line
            with_left = f"{line}, reste {self._left_text(now)}"
            return with_left if len(with_left) <= width else line
        if self._left():
            return f"{count}, environ {self._left_text(now)} restantes"
        return count

    def _left(self) -> bool:
        """Some invoices are left, and the pace so far says how long they take."""
        return 0 < self.done < self.total

    def _left_text(self, now: float) -> str:
        return format_wait(self.estimate - (now - self.estimated_at))


def _retry_reason(problem: object) -> str:
    if isinstance(problem, ServerUnreachable):
        return "serveur injoignable"
    if isinstance(problem, TransientFailure):
        return "serveur indisponible"
    return "refus du serveur"
