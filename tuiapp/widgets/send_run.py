"""The sending tab's send, in its worker thread: the workflow (local mode), or queue and watch
the sender service (service mode). It only calls the callbacks it is given (the panel posts
messages from them): no widget is touched from this thread."""

from __future__ import annotations

import gc
from collections.abc import Callable

from tuiapp.db.database import DATABASE_ERRORS, explain_database_error
from tuiapp.db.models import SendStatus
from tuiapp.sending import outbox, service_watch, workflow
from tuiapp.sending.engine import StopRequest

#: How often service mode reads where its invoices stand (seconds).
WATCH_EVERY = 0.5


def run(plan: workflow.Plan, stop: StopRequest, *, service_mode: bool, db_path,
        on_event: workflow.EventSink,
        on_watch: Callable[[service_watch.ServiceView], None]) -> tuple[workflow.Outcome | None, str]:
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
                    on_watch: Callable[[service_watch.ServiceView], None]) -> None:
    """Service mode: queue, then read where the invoices stand until the service has dealt with
    them all. Cancelling withdraws this operator's invoices not sent yet; leaving the tab only
    stops watching (the service sends them)."""
    queued = workflow.queue(plan, operator=outbox.operator_name())
    on_event(queued)
    while True:
        view = service_watch.watch(queued.record_ids)
        on_watch(view)
        if view.finished:
            return
        if stop.is_set():
            if stop.withdraw:
                on_event(workflow.Withdrawn(outbox.withdraw_unsent(queued.batch, queued.record_ids)))
            return
        stop.wait(WATCH_EVERY)


def finished_states(view: service_watch.ServiceView) -> int:
    """How many of the watched invoices the service has dealt with."""
    return sum(1 for state in view.states if state.status in SendStatus.finished())


class FullCollectionsDeferred:
    """While a batch runs, the garbage collector's full passes wait for its end.

    The tab's live objects (the table's and the log's render caches: ~190,000 after 300
    invoices) are scanned by each full pass; the collector ran one every ten or so
    younger passes, each holding the interpreter, so the event loop, for 100 to 400 ms.
    Measured (benchmarks/tui_bench.py --server-process --send 500, the 2-core machine
    under other work, load 4 to 6): 8 to 13 full passes per batch, the longest 144 to 402 ms;
    none with this. The younger generations are still collected; the thresholds come back
    when the batch ends.

    The thresholds are the interpreter's, not a tab's: two tabs (two periods) may send at once.
    One count of the batches running, for the whole process: the first to start saves the
    thresholds and defers, the last to end puts them back (each tab saving its own copy, the
    second one saved the first's deferred thresholds and put them back for the session)."""

    #: The full pass after this many younger passes: never within a batch (~90 per 300 invoices).
    DEFERRED = 100_000

    #: The batches running now (every tab's), and the thresholds from before the first of them.
    _running = 0
    _saved: tuple[int, int, int] = (0, 0, 0)

    def __init__(self) -> None:
        self._started = False  # this tab's batch counts among ``_running``

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        cls = FullCollectionsDeferred
        if cls._running == 0:
            cls._saved = gc.get_threshold()
            gc.set_threshold(cls._saved[0], cls._saved[1], self.DEFERRED)
        cls._running += 1

    def end(self) -> None:
        """This tab's batch is over (or the tab closed during it). The last batch to end puts the
        thresholds back and runs the deferred full pass at once: what the batches left as garbage
        in reference cycles is freed now, while nothing is being sent (one pass, 100 to 400 ms).
        Nothing is frozen here: ``gc.freeze`` would also have kept that garbage, every batch's, until
        the tab closed (the table freezes its own rows once they are loaded: ``SendTable``)."""
        if not self._started:
            return
        self._started = False
        cls = FullCollectionsDeferred
        cls._running -= 1
        if cls._running == 0:
            gc.set_threshold(*cls._saved)
            gc.collect()
