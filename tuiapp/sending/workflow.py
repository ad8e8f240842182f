"""One send, from a selection to its end, for the CLI and the TUI alike.

``prepare`` queues the selection (one ``queued`` record per invoice, in one
batch) and gathers the records to resume; ``run`` sends them through the
engine, then applies the one policy for what is left:

- the operator's *cancel* (``StopRequest.cancel``: the TUI's ``c``) withdraws
  the invoices not sent yet (``outbox.withdraw_unsent``);
- an *interruption* (``StopRequest.set``: a signal such as Ctrl+C or SIGTERM,
  a closed pipe, leaving the app) and a stop (a settings, server, database or
  disk problem) leave them queued, for the next run to resume.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tuiapp.sending import events as ev
from tuiapp.sending import outbox
from tuiapp.sending.engine import EventSink, SendEngine, StopRequest
from tuiapp.mail.smtp_client import Authenticator, SmtpSettings


@dataclass
class Prepared:
    batch: str
    record_ids: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)  # invoice ids whose last send is unknown: not sent
    already_sent: list[int] = field(default_factory=list)  # mailed meanwhile (elsewhere): not sent again
    elsewhere: int = 0  # being sent by another workstation

    @property
    def skipped(self) -> int:
        return len(self.uncertain) + len(self.already_sent) + self.elsewhere


@dataclass
class Result:
    finished: ev.BatchFinished
    withdrawn: int = 0  # cancelled: records taken out of the queue


def prepare(invoice_ids: Iterable[int], *, operator: str, include_sent: bool = False,
            resend: Iterable[int] = (), records: Iterable[int] = ()) -> Prepared:
    """Queue these invoices in one batch.

    ``resend``: invoices already mailed that the operator chose to mail again;
    ``records``: waiting records to resume (left by a run that stopped). An
    invoice already queued by such a run is resumed through its record."""
    resend = list(dict.fromkeys(resend))
    fresh = [invoice_id for invoice_id in dict.fromkeys(invoice_ids) if invoice_id not in resend]
    queued = outbox.queue_invoices(fresh, operator=operator, include_sent=include_sent)
    again = (outbox.queue_invoices(resend, operator=operator, batch=queued.batch, include_sent=True)
             if resend else outbox.QueueResult(queued.batch))
    active = queued.already_active + again.already_active
    waiting = outbox.queued_record_ids_for(active) if active else []
    return Prepared(
        queued.batch,
        record_ids=list(dict.fromkeys([*records, *waiting, *queued.record_ids, *again.record_ids])),
        uncertain=queued.uncertain + again.uncertain,
        already_sent=queued.already_sent,
        elsewhere=max(0, len(active) - len(waiting)),
    )


def run(prepared: Prepared, *, settings: SmtpSettings, authenticator: Authenticator, operator: str,
        stop: StopRequest, on_event: EventSink, **engine_options) -> Result:
    """Send the prepared records, then: cancelled, the rest is withdrawn; otherwise it stays queued."""
    engine = SendEngine(settings, authenticator, operator=operator, cancel=stop, on_event=on_event, **engine_options)
    finished = engine.run(prepared.record_ids, batch=prepared.batch)
    withdrawn = 0
    if finished.cancelled:
        withdrawn = outbox.withdraw_unsent(prepared.batch, prepared.record_ids)
    return Result(finished, withdrawn)
