"""The sending tab's send, in its worker thread: the workflow (local mode), or queue and watch
the sender service (service mode). It only calls the callbacks it is given (the panel posts
messages from them): no widget is touched from this thread."""

from __future__ import annotations

from collections.abc import Callable

from tuiapp.db.database import DATABASE_ERRORS, explain_database_error
from tuiapp.db.models import SendStatus
from tuiapp.sending import outbox, workflow
from tuiapp.sending.engine import StopRequest

#: How often service mode reads where its invoices stand (seconds).
WATCH_EVERY = 0.5


def run(plan: workflow.Plan, stop: StopRequest, *, service_mode: bool, db_path,
        on_event: workflow.EventSink,
        on_watch: Callable[[workflow.ServiceView], None]) -> tuple[workflow.Outcome | None, str]:
    """The whole send: (its outcome, "") or (None, why it stopped, in French). ``db_path``:
    the app's database, named in a database error's sentence."""
    from tuiapp.domain.errors import TuiappError

    try:
        if service_mode:
            queue_and_watch(plan, stop, on_event=on_event, on_watch=on_watch)
            return None, ""
        return workflow.send(plan, stop=stop, on_event=on_event), ""
    except TuiappError as exc:
        return None, f"Envoi impossible : {exc}"
    except DATABASE_ERRORS as exc:  # its meaning, in French (the driver's text may quote a server)
        return None, (f"Envoi arrêté : {explain_database_error(db_path, exc)} "
                      "L'état de chaque facture est dans la liste.")
    except Exception as exc:  # shown, never swallowed: the records stay queued or unknown
        return None, f"Erreur inattendue pendant l'envoi ({type(exc).__name__} : {exc})."


def queue_and_watch(plan: workflow.Plan, stop: StopRequest, *, on_event: workflow.EventSink,
                    on_watch: Callable[[workflow.ServiceView], None]) -> None:
    """Service mode: queue, then read where the invoices stand until the service has dealt with
    them all. Cancelling withdraws this operator's invoices not sent yet; leaving the tab only
    stops watching (the service sends them)."""
    queued = workflow.queue(plan, operator=outbox.operator_name())
    on_event(queued)
    while True:
        view = workflow.watch(queued.record_ids)
        on_watch(view)
        if view.finished:
            return
        if stop.is_set():
            if stop.withdraw:
                on_event(workflow.Withdrawn(outbox.withdraw_unsent(queued.batch, queued.record_ids)))
            return
        stop.wait(WATCH_EVERY)


def finished_states(view: workflow.ServiceView) -> int:
    """How many of the watched invoices the service has dealt with."""
    return sum(1 for state in view.states if state.status in SendStatus.finished())
