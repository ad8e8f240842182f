"""Builds a batch's messages (PDF attached) ahead of the sending.

A large batch is built in helper processes: PDF rendering holds the GIL, and
in the sending thread it would slow the sending down. The helpers run at a
lower priority than the sending (and the TUI), and start in about half a
second (they load the PDF stack): until one is ready, or when none can start
or one dies, the messages are built in the calling thread, so the sending
never sits idle waiting for them.

Under the TUI, Textual has replaced ``sys.stderr`` with an object without a
file descriptor, which ``multiprocessing`` hands to each new process: while
the helpers are started (all at once, at the start of the batch), it is given
``/dev/null`` instead, and the helpers themselves write nothing on the
terminal the TUI draws on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from tuiapp.core.compose import invoice_message_bytes
from tuiapp.core.documents import InvoiceDocument
from tuiapp.core.pdf import invoice_pdf, pdf_filename

#: Helpers yield the processor to the sending itself (and to the TUI).
HELPER_NICENESS = 10
MAX_HELPERS = 4
# What a helper that cannot be used raises, at submission or at the result.
_HELPERS_UNUSABLE = (OSError, ValueError, BrokenProcessPool)


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


@contextmanager
def _spawnable_streams() -> Iterator[None]:
    """A standard error stream with a real descriptor, while helpers start."""
    if _stderr_usable():
        yield
        return
    saved = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        try:
            yield
        finally:
            sys.stderr = saved


def _prepare_helper(quiet: bool) -> None:
    """In a helper process: die with the parent, step back, load the PDF stack;
    ``quiet``: keep off the terminal (the parent is the TUI)."""
    import ctypes
    import signal

    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
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
        if in_helpers:
            count = helper_count()
            try:
                with _spawnable_streams():
                    self._pool = ProcessPoolExecutor(
                        max_workers=count,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_prepare_helper,
                        initargs=(not _stderr_usable(),),
                    )
                    # One call per helper while none is idle starts them all now.
                    self._ready = [self._pool.submit(_helper_ready) for _ in range(count)]
            except _HELPERS_UNUSABLE:
                self._drop_helpers()

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
                self._drop_helpers()
        return _built_here(doc, message_id)

    def result(self, future: Future, doc: InvoiceDocument, message_id: str) -> bytes:
        """The built message; a composition or PDF error is raised as it is."""
        try:
            return future.result()
        except BrokenProcessPool:  # its helper died: built here instead
            self._drop_helpers()
            return build_message(doc, message_id)

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

    def _drop_helpers(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        self._ready = []
