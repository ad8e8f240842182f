"""``tuiapp send``: mail a period's invoices, and ``tuiapp resolve`` for uncertain sends."""

from __future__ import annotations

import argparse
import signal
import sys
from contextlib import contextmanager
from datetime import datetime

from tuiapp.cli.common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_USAGE,
    add_db_option,
    confirm,
    open_existing,
    say,
    silence,
    warn,
)
from tuiapp.sending import events as ev
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.periods import Period


def register(commands) -> None:
    send = commands.add_parser("send", help="envoie par mail les factures d'une période")
    add_db_option(send)
    send.add_argument("--period", required=True, metavar="AAAA-MM", help="période des factures (ex. 2024-09)")
    send.add_argument("--structure", metavar="CODE", help="seulement cette structure")
    send.add_argument("--include-sent", action="store_true", help="renvoie aussi les factures déjà envoyées")
    send.add_argument("--dry-run", action="store_true", help="montre ce qui serait envoyé, sans rien envoyer")
    send.add_argument("--yes", action="store_true", help="ne demande pas de confirmation")
    send.set_defaults(func=send_period)

    resolve = commands.add_parser("resolve", help="décide du sort d'un envoi à l'état inconnu")
    add_db_option(resolve)
    resolve.add_argument("record", type=int, metavar="ENVOI", help="numéro de l'envoi (voir tuiapp history)")
    decision = resolve.add_mutually_exclusive_group(required=True)
    decision.add_argument("--delivered", action="store_true", help="le message est bien parti : le marquer envoyé")
    decision.add_argument("--resend", action="store_true", help="le renvoyer au prochain tuiapp send")
    resolve.set_defaults(func=resolve_record)


def _structure(code: str | None):
    from tuiapp.db.models import Structure

    if code is None:
        return None
    structure = Structure.get_or_none(Structure.code == code.strip().upper())
    if structure is None:
        raise TuiappError(f"Structure inconnue : {code}")
    return structure


def _report_interrupted() -> None:
    from tuiapp.sending import outbox

    for record in outbox.recover_interrupted():
        warn(
            f"Attention : l'envoi n° {record.id} (facture {record.invoice.number}) a été interrompu : "
            f"état inconnu, le message est peut-être parti (Message-ID {record.message_id}). "
            f"Il ne sera pas renvoyé sans votre décision : tuiapp resolve {record.id} --delivered | --resend"
        )


def _candidates(period: Period, structure, include_sent: bool):
    from tuiapp.db import queries
    from tuiapp.db.models import Invoice

    query = queries.invoices_to_mail(period, structure)
    if not include_sent:
        query = query.where(Invoice.last_mailed_at.is_null())
    return list(query)


def _dry_run(invoices) -> int:
    from tuiapp.mail.compose import envelope_recipients
    from tuiapp.db.snapshots import document_for, lines_of
    from tuiapp.domain.formatting import departed_mark
    from tuiapp.pdf.invoice import pdf_filename
    from tuiapp.domain.templates import render
    from tuiapp.db.models import Association

    association = Association.get_solo()
    lines = lines_of(invoice.id for invoice in invoices)
    for invoice in invoices:
        doc = document_for(invoice, association, lines.get(invoice.id, ()))
        say(f"{doc.number}  {doc.resident_name}{departed_mark(invoice.resident.active)}")
        say(f"    À       : {', '.join(envelope_recipients(doc))}")
        say(f"    Objet   : {render(doc.subject_template, doc.keyword_values)}")
        say(f"    Fichier : {pdf_filename(doc)}")
    say(f"{len(invoices)} facture(s) seraient envoyées (simulation : rien n'a été envoyé).")
    return EXIT_OK


class _Printer:
    """Prints the engine's events; a closed pipe (``send | head``) interrupts the batch
    between two messages rather than breaking it (the rest stays queued)."""

    def __init__(self, stop) -> None:
        self.stop = stop
        self.closed = False

    def __call__(self, event: ev.Event) -> None:
        from tuiapp.sending.wording import describe

        if self.closed or isinstance(event, (ev.InvoiceClaimed, ev.BatchStarted)):
            return
        line = f"{datetime.now():%H:%M:%S}  {describe(event)}"
        to_stderr = isinstance(event, (ev.InvoiceFailed, ev.InvoiceUncertain, ev.BatchStopped, ev.InvoicePartial))
        try:
            (warn if to_stderr else say)(line)
        except BrokenPipeError:
            self.closed = True
            silence(sys.stderr if to_stderr else sys.stdout)
            self.stop.set()


def send_period(args: argparse.Namespace) -> int:
    from tuiapp.sending import outbox
    from tuiapp.sending import workflow as send_workflow
    from tuiapp.sending.engine import StopRequest
    from tuiapp.mail.secrets import get_password
    from tuiapp.mail.smtp_client import SmtpSettings, keyring_authenticator
    from tuiapp.mail.problems import PasswordMissing
    from tuiapp.db.models import Association

    period = Period.parse(args.period)
    open_existing(args)
    structure = _structure(args.structure)
    invoices = _candidates(period, structure, args.include_sent)
    if args.dry_run:
        return _dry_run(invoices)

    settings = SmtpSettings.from_association(Association.get_solo())
    if settings.username and not get_password(settings.host, settings.username):
        raise TuiappError(str(PasswordMissing()))
    _report_interrupted()
    leftovers = outbox.queued_record_ids(period, structure)
    if not invoices and not leftovers:
        say("Aucune facture à envoyer pour cette période.")
        return EXIT_OK
    recipients = sum(len(invoice.resident.recipients) for invoice in invoices)
    question = f"Envoyer {len(invoices)} facture(s) de {period} à {recipients} adresse(s)"
    if leftovers:
        question += f", et reprendre {len(leftovers)} envoi(s) restés en attente"
    if not args.yes and sys.stdin.isatty() and not confirm(question + " ?"):
        say("Rien n'a été envoyé.")
        return EXIT_OK

    operator = outbox.operator_name()
    prepared = send_workflow.prepare([invoice.id for invoice in invoices], operator=operator,
                                     include_sent=args.include_sent, records=leftovers)
    for invoice_id in prepared.uncertain:
        warn(f"Facture {_number(invoice_id)} : dernier envoi à l'état inconnu, pas renvoyée (tuiapp resolve).")
    if prepared.already_sent:
        say(f"{len(prepared.already_sent)} facture(s) envoyée(s) entre-temps par ailleurs : pas renvoyées.")
    stop = StopRequest()
    printer = _Printer(stop)
    with _interrupt_on_signals(stop):
        result = send_workflow.run(prepared, settings=settings, authenticator=keyring_authenticator(settings),
                                   operator=operator, stop=stop, on_event=printer)
    finished = result.finished
    if getattr(finished.stopped, "settings_problem", False):
        return EXIT_USAGE
    return EXIT_OK if finished.all_sent and not prepared.uncertain else EXIT_INCOMPLETE


@contextmanager
def _interrupt_on_signals(stop):
    """Ctrl+C or SIGTERM: an interruption; the batch stops after the message on the
    wire and the rest stays queued for the next run. A second one: stop at once."""

    def interrupted(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        try:
            warn("Arrêt demandé : l'envoi s'arrête après le message en cours ; les factures restantes restent "
                 "en attente pour le prochain envoi (Ctrl+C à nouveau : tout de suite).")
        except (BrokenPipeError, OSError):
            pass

    previous = {signum: signal.signal(signum, interrupted) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _number(invoice_id: int) -> str:
    from tuiapp.db.models import Invoice

    return Invoice.get_by_id(invoice_id).number


def resolve_record(args: argparse.Namespace) -> int:
    from tuiapp.sending import outbox
    from tuiapp.db.models import SendRecord, SendStatus

    open_existing(args)
    outbox.recover_interrupted()
    record = SendRecord.get_or_none(SendRecord.id == args.record) if 0 < args.record < 2**63 else None
    if record is None or record.status != SendStatus.UNKNOWN:
        raise TuiappError(f"L'envoi n° {args.record} n'est pas à l'état inconnu (voir tuiapp history).")
    new_id = outbox.resolve_uncertain(record.id, delivered=args.delivered, operator=outbox.operator_name())
    if args.delivered:
        say(f"Envoi n° {record.id} marqué comme envoyé.")
    else:
        say(f"Facture {record.invoice.number} remise en attente (envoi n° {new_id}) : elle partira au prochain tuiapp send.")
    return EXIT_OK
