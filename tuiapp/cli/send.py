"""``tuiapp send``: mail a period's invoices, and ``tuiapp resolve`` for sends whose outcome is unknown."""

from __future__ import annotations

import argparse
import signal
import sys
from contextlib import contextmanager
from datetime import datetime
from functools import partial

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
    send.add_argument("--wait", action="store_true",
                      help="sur le serveur de l'association : attend que le service d'envoi ait tout envoyé")
    send.add_argument("--timeout", type=float, metavar="SECONDES", help="avec --wait : attente au plus (sinon sans fin)")
    send.set_defaults(func=send_period)

    withdraw = commands.add_parser("withdraw", help="retire de la file d'attente les factures d'une période "
                                                    "pas encore envoyées (les vôtres ; --all : toutes)")
    add_db_option(withdraw)
    withdraw.add_argument("--period", required=True, metavar="AAAA-MM", help="période des factures (ex. 2024-09)")
    withdraw.add_argument("--all", action="store_true", help="celles de tous les opérateurs (administrateurs)")
    withdraw.set_defaults(func=withdraw_period)

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


def _report_interrupted(records) -> None:
    for record in records:
        warn(
            f"Attention : l'envoi n° {record.id} (facture {record.invoice.number}) a été interrompu : "
            f"état inconnu, le message est peut-être parti (Message-ID {record.message_id}). "
            f"Il ne sera pas renvoyé sans votre décision : tuiapp resolve {record.id} --delivered | --resend"
        )


def _report_left_out(left_out, show=warn) -> None:
    """What is not sent and why: on standard error (standard output is the log of the sends), but
    on standard output for a dry run, whose output is the plan."""
    from tuiapp.sending.workflow import Reason, left_out_lines

    for item in left_out:
        if item.reason is Reason.UNKNOWN:
            warn(f"{item.text} Décidez-en : tuiapp resolve {item.record_id} --delivered | --resend")
    for reason, text in left_out_lines(item for item in left_out if item.reason is not Reason.UNKNOWN):
        show(text.removesuffix(".") + " (--include-sent pour les renvoyer)." if reason is Reason.ALREADY_SENT else text)


def _dry_run(plan) -> int:
    from tuiapp.domain.formatting import counted, plural
    from tuiapp.sending.preview import outlines

    _report_left_out(plan.left_out, say)
    for lines in outlines([item.row.invoice_id for item in plan.items]):
        for line in lines:
            say(line)
    count = len(plan.items)
    imported = sum(item.row.pdf_imported for item in plan.items)
    generated = count - imported
    pdfs = (f" ; PDF : {imported} {plural(imported, 'importé', 'importés')}, "
            f"{generated} {plural(generated, 'généré', 'générés')}") if count else ""
    would = plural(count, "serait envoyée", "seraient envoyées")
    say(f"{counted(count, 'facture', 'factures')} {would}{pdfs} (simulation : rien n'a été envoyé).")
    return EXIT_OK


class _Printer:
    """Prints the workflow's events; a closed pipe (``send | head``) interrupts the batch
    between two messages rather than breaking it (the rest stays queued)."""

    def __init__(self, stop) -> None:
        self.stop = stop
        self.closed = False

    def __call__(self, event) -> None:
        from tuiapp.sending import events as ev  # (the send path: not imported by every start of tuiapp)
        from tuiapp.sending import workflow

        if self.closed:
            return
        if isinstance(event, workflow.Queued):  # what changed since the plan (another workstation...)
            self._print(lambda: _report_left_out(event.left_out), sys.stderr)
            return
        to_stderr = isinstance(event, (ev.InvoiceFailed, ev.InvoiceUnknown, ev.BatchStopped, ev.InvoicePartial))
        for text in workflow.describe(event):
            line = f"{datetime.now():%H:%M:%S}  {text}"
            show = warn if to_stderr else say
            self._print(partial(show, line), sys.stderr if to_stderr else sys.stdout)

    def _print(self, show, stream) -> None:
        try:
            show()
        except BrokenPipeError:
            self.closed = True
            silence(stream)
            self.stop.set()


def send_period(args: argparse.Namespace) -> int:
    from tuiapp.sending import workflow
    from tuiapp.sending.engine import StopRequest
    from tuiapp.services.site import locate
    from tuiapp.system_config import Mode

    period = Period.parse(args.period)
    if args.timeout is not None and not (0 < args.timeout < 7 * 24 * 3600):
        raise TuiappError("--timeout : un nombre de secondes positif est attendu.")
    site = locate(args.db)
    open_existing(args, site)
    structure = _structure(args.structure)
    if args.dry_run:
        return _dry_run(workflow.plan(period, structure, include_sent=args.include_sent))
    if site.mode is Mode.SERVICE:
        from tuiapp.cli.send_queue import queue_for_service

        return queue_for_service(args, period, structure)
    if args.wait:
        raise TuiappError("--wait sert sur le serveur de l'association (mode service) ; ici tuiapp envoie lui-même.")

    connection = workflow.connection_for_association()  # no password: refused before anything is queued
    _report_interrupted(workflow.recover())
    plan = workflow.plan(period, structure, include_sent=args.include_sent)
    _report_left_out(plan.left_out)
    waiting_for_decision = any(item.reason is workflow.Reason.UNKNOWN for item in plan.left_out)
    if not plan.items:
        say("Aucune facture à envoyer pour cette période.")
        return EXIT_INCOMPLETE if waiting_for_decision else EXIT_OK
    if not args.yes and sys.stdin.isatty() and not confirm(plan.question()):
        say("Rien n'a été envoyé.")
        return EXIT_OK

    stop = StopRequest()
    with _interrupt_on_signals(stop):
        outcome = workflow.send(plan, connection=connection, stop=stop, on_event=_Printer(stop))
    if getattr(outcome.finished.stopped, "settings_problem", False):
        return EXIT_USAGE
    return EXIT_OK if outcome.complete else EXIT_INCOMPLETE


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


def resolve_record(args: argparse.Namespace) -> int:
    from tuiapp.db.models import SendRecord, SendStatus
    from tuiapp.domain.roles import Role, decide_refusal
    from tuiapp.sending import outbox, workflow
    from tuiapp.services.site import locate

    site = locate(args.db)
    if site.role is Role.NONE:  # before anything is written
        raise TuiappError(f"Votre compte n'a aucun rôle dans tuiapp sur ce serveur ({site.role_reason}) : "
                          "décider d'un envoi est impossible. Demandez à l'administrateur.")
    open_existing(args, site)
    workflow.recover()
    record = SendRecord.get_or_none(SendRecord.id == args.record) if 0 < args.record < 2**63 else None
    if record is None:
        raise TuiappError(f"L'envoi n° {args.record} n'existe pas (voir tuiapp history).")
    if record.status != SendStatus.UNKNOWN:
        raise TuiappError(f"L'envoi n° {args.record} n'est pas à l'état inconnu (voir tuiapp history).")
    if site.role is not Role.ADMIN and (reason := decide_refusal(site.role, record.operator, outbox.operator_name())):
        raise TuiappError(f"{reason} Rien n'a été décidé.")
    new_id = workflow.resolve(record.id, delivered=args.delivered)
    if args.delivered:
        say(f"Envoi n° {record.id} marqué comme envoyé.")
    else:
        say(f"Facture {record.invoice.number} remise en attente (envoi n° {new_id}) : elle partira au prochain tuiapp send.")
    return EXIT_OK


def withdraw_period(args: argparse.Namespace) -> int:
    from tuiapp.domain.roles import Action, refusal
    from tuiapp.sending import outbox
    from tuiapp.services.site import locate

    period = Period.parse(args.period)
    site = locate(args.db)
    if args.all and (reason := refusal(site.role, Action.WITHDRAW_OTHERS)) is not None:
        raise TuiappError(reason)
    open_existing(args, site)
    me = outbox.operator_name()
    count = outbox.withdraw_queued(period, operator=None if args.all else me)
    whose = "de tous les opérateurs" if args.all else f"de {me}"
    from tuiapp.domain.formatting import counted, plural

    say(f"{counted(count, 'facture', 'factures')} {whose} {plural(count, 'retirée', 'retirées')} "
        f"de la file d'attente ({period}).")
    return EXIT_OK
