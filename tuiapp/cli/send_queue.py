"""``tuiapp send`` on the association's server (service mode): queue, then (``--wait``) watch the service."""

from __future__ import annotations

import argparse
import sys
import time

from tuiapp.cli.common import EXIT_INCOMPLETE, EXIT_OK, confirm, say, warn
from tuiapp.domain.formatting import counted, plural
from tuiapp.domain.periods import Period

#: How often --wait reads the records' states again.
POLL = 0.3

#: « le service d'envoi l'enverra » or « les enverra ».
SENDS_ONE, SENDS_MANY = "l'enverra", "les enverra"


def queue_for_service(args: argparse.Namespace, period: Period, structure) -> int:
    from tuiapp.cli.send import _report_interrupted, _report_left_out
    from tuiapp.db import heartbeat
    from tuiapp.sending import outbox, workflow

    _report_interrupted(workflow.recover())
    plan = workflow.plan(period, structure, include_sent=args.include_sent)
    _report_left_out(plan.left_out)
    if not plan.items:
        say("Aucune facture à envoyer pour cette période.")
        return EXIT_OK
    if not args.yes and sys.stdin.isatty() and not confirm(plan.question()):
        say("Rien n'a été mis en file d'attente.")
        return EXIT_OK
    queued = workflow.queue(plan, operator=outbox.operator_name())
    _report_left_out(queued.left_out)
    queued_count = len(queued.record_ids)
    say(f"{counted(queued_count, 'facture', 'factures')} en file d'attente : le service d'envoi "
        f"{plural(queued_count, SENDS_ONE, SENDS_MANY)}.")
    beat = heartbeat.last()
    if beat is None or beat.stale():
        warn(_stopped_text(beat))
    if not args.wait:
        return EXIT_OK
    return _wait(list(queued.record_ids), args.timeout)


def _stopped_text(beat) -> str:
    from tuiapp.domain.formatting import format_duration

    if beat is None:
        return "Attention : le service d'envoi n'a jamais fonctionné sur cette base : prévenez l'administrateur."
    return (f"Attention : service d'envoi arrêté depuis {format_duration(beat.age().total_seconds())} : "
            "prévenez l'administrateur.")


def _wait(record_ids: list[int], timeout: float | None) -> int:
    from tuiapp.db import heartbeat
    from tuiapp.domain import timing
    from tuiapp.domain.status import SendStatus
    from tuiapp.sending import service_watch

    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    told: dict[int, SendStatus] = {}
    while True:
        states = service_watch.states(record_ids)
        for state in states:
            if state.status in SendStatus.finished() and told.get(state.record_id) != state.status:
                told[state.record_id] = state.status
                line = f"Facture {state.number} ({state.resident}) : {state.status.label}"
                (say if state.status == SendStatus.SENT else warn)(line + (f" ({state.error})" if state.error
                                                                           and state.status != SendStatus.SENT else "."))
        if all(state.status in SendStatus.finished() for state in states):
            sent = sum(state.status == SendStatus.SENT for state in states)
            say(f"Terminé : {sent} {plural(sent, 'envoyée', 'envoyées')} sur {len(states)}.")
            return EXIT_OK if sent == len(states) else EXIT_INCOMPLETE
        beat = heartbeat.last()
        # a service never seen is given the staleness delay to show up (it may be starting)
        never_yet = beat is None and time.monotonic() - started < timing.heartbeat_stale()
        if (beat is None or beat.stale()) and not never_yet:
            warn(_stopped_text(beat) + " Les factures restent en file d'attente.")
            return EXIT_INCOMPLETE
        if deadline is not None and time.monotonic() >= deadline:
            waiting = sum(state.status not in SendStatus.finished() for state in states)
            warn(f"Délai d'attente écoulé : {counted(waiting, 'facture', 'factures')} encore en file d'attente ; "
                 f"le service {plural(waiting, SENDS_ONE, SENDS_MANY)}.")
            return EXIT_INCOMPLETE
        time.sleep(POLL)
