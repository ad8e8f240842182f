"""Builds a batch's messages (PDF attached) ahead of the sending.

A large batch is built in helper processes: PDF rendering holds the GIL, and
in the sending thread it would slow the sending down. The helpers run at a
lower priority than the sending (and the TUI), and start in about half a
second (they load the PDF stack): until one is ready, or when none can start
or one dies, the messages are built in the calling thread, so the sending
never sits idle waiting for them.

Under the TUI, the helpers write nothing on the terminal the TUI draws on.
A helper that dies (killed, out of memory) loses nothing: its messages are
built here, and new helpers are started (twice at most per batch).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import resource_tracker

from tuiapp.core.compose import CompositionError, invoice_message_bytes
from tuiapp.core.documents import InvoiceDocument
from tuiapp.core.errors import TuiappError
from tuiapp.core.pdf import invoice_pdf, pdf_filename

#: Helpers yield the processor to the sending itself (and to the TUI).
HELPER_NICENESS = 10
MAX_HELPERS = 4
#: How many times per batch helpers that died are replaced.
MAX_RESTARTS = 2
# What a helper that cannot be used raises, at submission or at the result.
_HELPERS_UNUSABLE = (OSError, ValueError, BrokenProcessPool)


class BuildFailed(TuiappError):
    """An invoice's PDF could not be produced; the message says why, in French."""


def build_message(doc: InvoiceDocument, message_id: str) -> bytes:
    """The invoice's message, PDF attached, as it goes on the wire."""
    return invoice_message_bytes(doc, invoice_pdf(doc), pdf_filename(doc), message_id=message_id)


def helper_count() -> int:
    """One per processor but one (the sending's), at least 2, at most ``MAX_HELPERS``."""
    try:
        processors = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        processors = os.cpu_count() or 2
    return min(MAX_HELPERS, max(2, processors - 1))


def _stderr_usable() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        return False


_tracker_lock = threading.Lock()


def _start_resource_tracker() -> None:
    """Start ``multiprocessing``'s resource tracker (once per process).

    It is handed ``sys.stderr``'s descriptor, which Textual's replacement does
    not have (-1): for that moment, it gets ``/dev/null``, put back only if
    nobody replaced it meanwhile (Textual restoring its own at exit, say).
    """
    with _tracker_lock:
        if _stderr_usable():
            resource_tracker.ensure_running()
            return
        saved = sys.stderr
        with open(os.devnull, "w") as devnull:
            sys.stderr = devnull
            try:
                resource_tracker.ensure_running()
            finally:
                if sys.stderr is devnull:
                    sys.stderr = saved


def _prepare_helper(quiet: bool, parent: int) -> None:
    """In a helper process: die with the parent, leave Ctrl+C to it, step back,
    load the PDF stack; ``quiet``: keep off the terminal (the parent is the TUI)."""
    import ctypes

    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cancels between two messages
    try:
        os.nice(HELPER_NICENESS)
    except (OSError, AttributeError):
        pass
    import markdown_pdf  # noqa: F401  (loaded before the first invoice, not during it)


def _helper_ready() -> bool:
    return True


def _built_here(doc: InvoiceDocument, message_id: str) -> Future:
    future: Future = Future()
    try:
        future.set_result(build_message(doc, message_id))
    except Exception as exc:  # handed to whoever asks for the result
        future.set_exception(exc)
    return future


class MessageBuilder:
    """``submit`` a message to build, then ask for its ``result`` when it is its turn."""

    def __init__(self, *, in_helpers: bool, prefetch: int = 8) -> None:
        self.prefetch = max(1, prefetch)
        self._pool: ProcessPoolExecutor | None = None
        self._ready: list[Future] = []
        self._restarts = 0
        if in_helpers:
            self._start_helpers()

    @property
    def uses_helpers(self) -> bool:
        return self._pool is not None

    def ahead(self) -> int:
        """How many messages to keep in the making: one while they are built here."""
        return self.prefetch if self._helpers_ready() else 1

    def submit(self, doc: InvoiceDocument, message_id: str) -> Future:
        if self._helpers_ready():
            try:
                return self._pool.submit(build_message, doc, message_id)
            except _HELPERS_UNUSABLE:
                self._helpers_lost()
        return _built_here(doc, message_id)

    def result(self, future: Future, doc: InvoiceDocument, message_id: str) -> bytes:
        """The built message. Raises ``CompositionError`` (the invoice's data) or
        ``BuildFailed`` (its PDF could not be produced), both in French."""
        try:
            try:
                return future.result()
            except (BrokenProcessPool, CancelledError):
                # Its helper died, maybe of this very invoice: it is built again by
                # the helpers that replace it, or here when none are left.
                self._helpers_lost()
                if self._pool is None:
                    return build_message(doc, message_id)
                try:
                    return self._pool.submit(build_message, doc, message_id).result()
                except (BrokenProcessPool, CancelledError):
                    self._helpers_lost()
                    raise BuildFailed(
                        "PDF impossible à produire : le programme de rendu s'est arrêté deux fois sur cette facture."
                    ) from None
        except (CompositionError, BuildFailed):
            raise
        except Exception as exc:  # a PDF that cannot be rendered fails this invoice only
            raise BuildFailed(f"PDF impossible à produire ({type(exc).__name__}).") from exc

    def close(self) -> None:
        """Cancel what is not built yet and let the helpers end."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._ready = []

    def __enter__(self) -> MessageBuilder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _helpers_ready(self) -> bool:
        return self._pool is not None and any(probe.done() for probe in self._ready)

    def _start_helpers(self) -> None:
        count = helper_count()
        quiet = not _stderr_usable()
        try:
            _start_resource_tracker()
            self._pool = ProcessPoolExecutor(
                max_workers=count,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_prepare_helper,
                initargs=(quiet, os.getpid()),
            )
            # One call per helper while none is idle starts them all now.
            self._ready = [self._pool.submit(_helper_ready) for _ in range(count)]
        except _HELPERS_UNUSABLE:
            self._drop_helpers()

    def _helpers_lost(self) -> None:
        """The helpers broke (one died): replace them while restarts are left."""
        if self._pool is None or not self._pool_broken():
            return
        self._drop_helpers()
        if self._restarts < MAX_RESTARTS:
            self._restarts += 1
            self._start_helpers()

    def _pool_broken(self) -> bool:
        try:
            self._pool.submit(_helper_ready).cancel()
        except _HELPERS_UNUSABLE:
            return True
        return False

    def _drop_helpers(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        self._ready = []
