"""One send, from a choice of invoices to its summary, for the CLI, the TUI and any later front end.

- ``plan``: what will be sent, and what is left out and why (``Reason``); it
  only reads. ``plan_rows`` makes it from rows already read (the TUI's table).
- ``send``: refused at once when the server's password is missing (nothing
  queued); otherwise ``queue`` (one ``queued`` record per invoice, in one
  transaction, the choice read again under the write lock) then ``run`` (the
  engine), every step reported as an event to ``on_event``: ``Queued``, the
  engine's events (``tuiapp.sending.events``), ``Withdrawn``.
- ``Outcome``: the summary; ``describe`` words every event in French.

One cancel policy, everywhere:

- the operator's *cancel* (``StopRequest.cancel``: the TUI's ``c``) withdraws
  the invoices not sent yet (``outbox.withdraw_unsent``);
- an *interruption* (``StopRequest.set``: Ctrl+C or SIGTERM, a closed pipe,
  leaving the app) and a stop (a settings, server, database or disk problem)
  leave them queued: the next plan of the period resumes them.

Recovering the sends of a process that died (``recover``) writes: the front
ends call it at their start, never from a periodic refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import cast

from tuiapp.db import queries
from tuiapp.db.models import Association, SendRecord, SendStatus
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.formatting import counted, departed_mark, plural
from tuiapp.domain.periods import Period
from tuiapp.mail.smtp_client import Authenticator, SmtpSettings
from tuiapp.sending import events as ev
from tuiapp.sending import outbox, recovery, wording
from tuiapp.sending.engine import SendEngine, StopRequest


class Reason(StrEnum):
    """Why an invoice of the choice is not sent."""

    NO_ADDRESS = "no-address"
    NO_SENDER = "no-sender"  # its structure has no sender address: every message would be refused
    ALREADY_SENT = "already-sent"  # mailed before (or meanwhile, elsewhere); --include-sent / ticked to resend
    UNKNOWN = "unknown"  # its last send may have left: a decision first (tuiapp resolve, the TUI's k)
    ELSEWHERE = "elsewhere"  # being sent by another workstation or process


@dataclass(frozen=True, slots=True)
class LeftOut:
    invoice_id: int
    number: str
    resident: str  # with the departed mark
    reason: Reason
    record_id: int | None = None  # its latest send record (the unknown one, say)
    structure: str = ""  # NO_SENDER: the structure that has no sender address ("CODE - name")

    @property
    def text(self) -> str:
        """One sentence about this invoice (the unknown ones are named one by one)."""
        return f"Facture {self.number} ({self.resident}) : {_WHY[self.reason].format(record=self.record_id)}"


@dataclass(frozen=True, slots=True)
class Item:
    """An invoice the plan sends."""

    row: queries.SendRow
    resend: bool = False  # mailed already: sent again on purpose

    @property
    def resumed(self) -> int | None:
        """The waiting record this send takes up (left by a run that stopped, or a decision to resend)."""
        return self.row.send_record_id if self.row.send_status == SendStatus.QUEUED else None


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def recipients(self) -> int:
        return sum(len(item.row.recipients) for item in self.items)

    @property
    def structures_without_sender(self) -> list[str]:
        """The structures whose invoices are left out for want of a sender address, by name."""
        return sorted({item.structure for item in self.left_out if item.reason is Reason.NO_SENDER})

    def question(self) -> str:
        """The confirmation the front ends ask, the same everywhere: one count of invoices, and
        how many of those resume a send or go once more (never a second count to add up)."""
        count = len(self.items)
        text = (f"Envoyer {counted(count, 'facture', 'factures')} "
                f"à {counted(self.recipients, 'adresse', 'adresses')} ?")
        resumed = sum(1 for item in self.items if item.resumed)
        again = sum(1 for item in self.items if item.resend)
        if resumed:
            takes = plural(resumed, "reprend un envoi resté", "reprennent un envoi resté")
            text += f"\n{_of_these(resumed, count)} {takes} en attente."
        if again:
            went = plural(again, "a déjà été envoyée et part", "ont déjà été envoyées et partent")
            text += f"\n{_of_these(again, count)} {went} une nouvelle fois."
        if self.structures_without_sender:
            text += "\n" + no_sender_text(self.left_out)
        return text


def _of_these(part: int, count: int) -> str:
    """``Sur ces 88 factures, 12`` / ``Toutes les 88`` / ``Elle`` (the one invoice)."""
    if count == 1:
        return "Elle"
    if part == count:
        return f"Toutes les {count}"
    return f"Sur ces {count} factures, {part}"


def no_sender_text(left_out: Iterable[LeftOut]) -> str:
    """The structures that have no sender address, and how many of their invoices stay unsent."""
    missing = [item for item in left_out if item.reason is Reason.NO_SENDER]
    names = sorted({item.structure for item in missing})
    which = plural(len(names), "Cette structure n'a", "Ces structures n'ont")
    return (f"{which} pas d'adresse d'expéditeur : {', '.join(names)}. "
            f"{counted(len(missing), 'facture', 'factures')} non {plural(len(missing), 'envoyée', 'envoyées')} "
            "(renseignez l'adresse dans Structures).")


def _left_out(row: queries.SendRow, reason: Reason) -> LeftOut:
    return LeftOut(row.invoice_id, row.number, row.resident + departed_mark(row.active), reason, row.send_record_id)


def plan_rows(rows: Iterable[queries.SendRow], *, include_sent: bool = False,
              left_out: Iterable[LeftOut] = ()) -> Plan:
    """Decide for each row (an invoice with an address and its latest send state): sent or left out, and why.

    A waiting record is resumed, already mailed or not; an invoice already mailed
    is sent again only with ``include_sent`` (the TUI: the operator ticked it). An
    invoice of a structure with no sender address is never queued (every message
    would fail at the server): it is left out, and the confirmation names the structure.
    The one rule for the TUI (local and service mode), ``tuiapp send`` and any later front end."""
    plan = Plan(left_out=list(left_out))
    for row in rows:
        mailed = row.last_mailed_at is not None
        if row.send_status == SendStatus.UNKNOWN:
            plan.left_out.append(_left_out(row, Reason.UNKNOWN))
        elif row.send_status == SendStatus.SENDING:
            plan.left_out.append(_left_out(row, Reason.ELSEWHERE))
        elif row.send_status == SendStatus.QUEUED or include_sent or not mailed:
            plan.items.append(Item(row, resend=mailed))
        else:
            plan.left_out.append(_left_out(row, Reason.ALREADY_SENT))
    if plan.items and (without := _without_sender(item.row.invoice_id for item in plan.items)):
        plan.left_out += [replace(_left_out(item.row, Reason.NO_SENDER), structure=without[item.row.invoice_id])
                          for item in plan.items if item.row.invoice_id in without]
        plan.items = [item for item in plan.items if item.row.invoice_id not in without]
    return plan


def _without_sender(invoice_ids: Iterable[int]) -> dict[int, str]:
    """Of these invoices, those whose structure has no sender address: invoice id -> the structure."""
    from tuiapp.db.models import Invoice, Structure

    structures = {structure.id: str(structure) for structure in Structure.select().where(
        Structure.without_sender())}
    if not structures:  # the usual case: one small query
        return {}
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return {}
    # Only the batch's invoices are read (not every invoice of every period of those structures).
    query = Invoice.select(Invoice.id, Invoice.structure).where(
        Invoice.id.in_(wanted) & Invoice.structure.in_(list(structures)))
    pairs = cast(Iterable[tuple[int, int]], query.tuples())  # Peewee's stubs type .tuples() as the model
    return {invoice: structures[structure] for invoice, structure in pairs}


def plan(period: Period, structure=None, *, include_sent: bool = False) -> Plan:
    """The period's plan: every invoice, sent or left out with its reason (only reads)."""
    without_address = [
        LeftOut(invoice.id, invoice.number, invoice.resident.display_name + departed_mark(invoice.resident.active),
                Reason.NO_ADDRESS)
        for invoice in queries.invoices_without_address(period, structure)
    ]
    return plan_rows(queries.send_rows(period, structure), include_sent=include_sent, left_out=without_address)


# -- sending ------------------------------------------------------------------------


class NotReady(TuiappError):
    """The send cannot start (a secret of the server's account is missing): nothing was queued."""


@dataclass(frozen=True, slots=True)
class Connection:
    settings: SmtpSettings
    authenticator: Authenticator


def connection_for_association() -> Connection:
    """The association's server, and its account's secrets from the keyring; ``NotReady`` if one is missing
    (no password, no client secret, nobody signed in)."""
    from tuiapp.mail.authenticators import authenticator_for, missing_secret

    settings = SmtpSettings.from_association(Association.get_solo())
    if (reason := missing_secret(settings)) is not None:
        raise NotReady(reason)
    return Connection(settings, authenticator_for(settings))


def recover() -> list[SendRecord]:
    """Settle the sends of a process that died; returns those whose fate is now unknown (it writes)."""
    return recovery.recover_interrupted()


def resolve(record_id: int, *, delivered: bool, operator: str | None = None) -> int | None:
    """The operator's decision on a send whose fate is unknown: it did leave (marked sent), or it
    did not (queued again: returns the new record, which the next plan takes up)."""
    return recovery.resolve_unknown(record_id, delivered=delivered, operator=operator or outbox.operator_name())


@dataclass(frozen=True, slots=True)
class Queued:
    """The plan written to the queue; ``left_out``: what changed since the plan was made."""

    batch: str
    record_ids: tuple[int, ...]
    left_out: tuple[LeftOut, ...] = ()


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """The operator cancelled: these not sent yet were taken out of the queue."""

    count: int


Event = ev.Event | Queued | Withdrawn
EventSink = Callable[[Event], None]


def queue(plan: Plan, *, operator: str) -> Queued:
    """One ``queued`` record per new invoice of the plan, in one transaction; the waiting ones are taken up."""
    fresh = [item for item in plan.items if not item.resumed]
    result = outbox.queue_invoices([item.row.invoice_id for item in fresh], operator=operator,
                                   resend=[item.row.invoice_id for item in fresh if item.resend])
    rows = {item.row.invoice_id: item.row for item in fresh}
    waiting = _waiting_records(result.already_active)  # queued meanwhile (a run that stopped): taken up
    left_out = [_left_out(rows[i], reason) for ids, reason in (
        (result.unknown, Reason.UNKNOWN), (result.already_sent, Reason.ALREADY_SENT),
        (result.no_address, Reason.NO_ADDRESS),
        ([i for i in result.already_active if i not in waiting], Reason.ELSEWHERE),
    ) for i in ids]
    resumed = [item.resumed for item in plan.items if item.resumed]
    record_ids = dict.fromkeys([*resumed, *waiting.values(), *result.record_ids])
    return Queued(result.batch, tuple(record_ids), tuple(left_out))


def _waiting_records(invoice_ids: list[int]) -> dict[int, int]:
    if not invoice_ids:
        return {}
    query = (SendRecord.select(SendRecord.invoice, SendRecord.id)
             .where(SendRecord.invoice.in_(invoice_ids) & (SendRecord.status == SendStatus.QUEUED)))
    return dict(cast(Iterable[tuple[int, int]], query.tuples()))  # Peewee's stubs type .tuples() as the model


@dataclass
class Outcome:
    finished: ev.BatchFinished
    left_out: list[LeftOut]  # the plan's, and those found while queuing
    withdrawn: int = 0

    @property
    def complete(self) -> bool:
        """Everything planned was sent, and no invoice waits for a decision."""
        return self.finished.all_sent and not any(item.reason is Reason.UNKNOWN for item in self.left_out)


def run(plan: Plan, queued: Queued, *, connection: Connection, operator: str, stop: StopRequest,
        on_event: EventSink, **engine_options) -> Outcome:
    """The engine on the queued records; cancelled, the rest is withdrawn, otherwise it stays queued."""
    engine = SendEngine(connection.settings, connection.authenticator, operator=operator, cancel=stop,
                        on_event=on_event, **engine_options)
    finished = engine.run(queued.record_ids, batch=queued.batch)
    withdrawn = 0
    if finished.cancelled:
        withdrawn = outbox.withdraw_unsent(queued.batch, queued.record_ids)
        on_event(Withdrawn(withdrawn))
    return Outcome(finished, [*plan.left_out, *queued.left_out], withdrawn)


def send(plan: Plan, *, stop: StopRequest, on_event: EventSink, operator: str | None = None,
         connection: Connection | None = None, **engine_options) -> Outcome:
    """The whole send: refused before anything is queued without a password, then queue, then run."""
    connection = connection or connection_for_association()
    operator = operator or outbox.operator_name()
    queued = queue(plan, operator=operator)
    on_event(queued)
    return run(plan, queued, connection=connection, operator=operator, stop=stop, on_event=on_event,
               **engine_options)


# -- wording ------------------------------------------------------------------------------

_WHY = {
    Reason.NO_ADDRESS: "aucune adresse e-mail, à imprimer.",
    Reason.NO_SENDER: "sa structure n'a pas d'adresse d'expéditeur, elle n'est pas envoyée.",
    Reason.ALREADY_SENT: "déjà envoyée, pas renvoyée.",
    Reason.UNKNOWN: "l'envoi n° {record} est à l'état inconnu, elle n'est pas renvoyée sans votre décision.",
    Reason.ELSEWHERE: "en cours d'envoi sur un autre poste, ignorée.",
}
#: reason -> (one, several): "{}" is the count.
_COUNTED = {
    Reason.NO_ADDRESS: ("{} facture sans adresse e-mail : à imprimer.", "{} factures sans adresse e-mail : à imprimer."),
    Reason.ALREADY_SENT: ("{} facture déjà envoyée : pas renvoyée.", "{} factures déjà envoyées : pas renvoyées."),
    Reason.ELSEWHERE: ("{} facture en cours d'envoi sur un autre poste : ignorée.",
                       "{} factures en cours d'envoi sur un autre poste : ignorées."),
}


def left_out_lines(left_out: Iterable[LeftOut]) -> list[tuple[Reason, str]]:
    """French lines about what is left out: a count per reason, each unknown one named."""
    left_out = list(left_out)
    lines: list[tuple[Reason, str]] = [(item.reason, item.text) for item in left_out if item.reason is Reason.UNKNOWN]
    for reason, (one, several) in _COUNTED.items():
        count = sum(1 for item in left_out if item.reason is reason)
        if count:
            lines.append((reason, plural(count, one, several).format(count)))
    if any(item.reason is Reason.NO_SENDER for item in left_out):
        lines.append((Reason.NO_SENDER, no_sender_text(left_out)))
    return lines


def describe(event: Event) -> list[str]:
    """The log lines of one event (none for the steps that only move the progress)."""
    match event:
        case Queued(left_out=left_out):
            return [text for _, text in left_out_lines(left_out)]
        case Withdrawn(count=count):
            return [plural(count, "{} facture non envoyée retirée de la file d'attente.",
                           "{} factures non envoyées retirées de la file d'attente.").format(count)]
        case ev.InvoiceClaimed() | ev.BatchStarted():
            return []
    return [wording.describe(event)]
