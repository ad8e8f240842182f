"""Messages built ahead of the sending: in helper processes, or here when they cannot help."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from email import message_from_bytes, policy

import pymupdf
import pytest

from tuiapp.core.documents import document_for
from tuiapp.core.message_builder import MessageBuilder, helper_count
from tuiapp.core.periods import Period
from tuiapp.db import queries
from tuiapp.db.models import Association


@pytest.fixture
def docs(demo_db):
    association = Association.get_solo()
    return [document_for(invoice, association) for invoice in queries.invoices_to_mail(Period(2024, 9))[:6]]


def attachment_text(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    pdf = next(message.iter_attachments()).get_content()
    return pymupdf.open(stream=pdf, filetype="pdf")[0].get_text()


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)


def test_messages_are_built_here_until_a_helper_is_ready(docs):
    with MessageBuilder(in_helpers=True, prefetch=8) as builder:
        assert builder.uses_helpers
        assert len(multiprocessing.active_children()) >= helper_count()  # all started at once
        assert builder.ahead() == 1  # helpers still loading: one at a time, built here
        first = builder.submit(docs[0], "<first@example.org>")
        assert first.done()  # built at once, in this process
        assert docs[0].number in attachment_text(builder.result(first, docs[0], "<first@example.org>"))
        wait_until(lambda: builder.ahead() == 8)
        later = builder.submit(docs[1], "<later@example.org>")
        raw = builder.result(later, docs[1], "<later@example.org>")
        assert b"Message-ID: <later@example.org>" in raw
        assert docs[1].number in attachment_text(raw)


def test_a_helper_that_dies_leaves_no_invoice_unbuilt(docs):
    with MessageBuilder(in_helpers=True, prefetch=8) as builder:
        wait_until(lambda: builder.ahead() == 8)
        helpers = [child.pid for child in multiprocessing.active_children()]
        assert helpers
        futures = [builder.submit(doc, f"<{index}@example.org>") for index, doc in enumerate(docs)]
        for pid in helpers:
            os.kill(pid, signal.SIGKILL)
        built = [builder.result(future, doc, f"<{index}@example.org>")
                 for index, (future, doc) in enumerate(zip(futures, docs, strict=True))]
        assert not builder.uses_helpers  # the rest of the batch is built here
        for index, (raw, doc) in enumerate(zip(built, docs, strict=True)):
            assert f"Message-ID: <{index}@example.org>".encode() in raw
            assert doc.number in attachment_text(raw)
        again = builder.submit(docs[0], "<again@example.org>")
        assert again.done()


def test_a_small_batch_never_starts_helpers(docs):
    with MessageBuilder(in_helpers=False) as builder:
        assert not builder.uses_helpers
        assert builder.ahead() == 1
        future = builder.submit(docs[0], "<x@example.org>")
        assert docs[0].number in attachment_text(builder.result(future, docs[0], "<x@example.org>"))


def test_a_composition_error_reaches_the_caller(docs):
    from dataclasses import replace

    from tuiapp.core.compose import CompositionError

    broken = replace(docs[0], sender_email=None)
    with MessageBuilder(in_helpers=False) as builder:
        future = builder.submit(broken, "")
        with pytest.raises(CompositionError):
            builder.result(future, broken, "")


async def test_helpers_start_under_the_tui(docs):
    """Textual replaces sys.stderr with an object whose descriptor is -1."""
    from textual.app import App

    outcome: dict = {}

    class Host(App):
        def on_mount(self) -> None:
            self.run_worker(self.build, thread=True)

        def build(self) -> None:
            outcome["stderr descriptor"] = sys.stderr.fileno()
            with MessageBuilder(in_helpers=True, prefetch=8) as builder:
                outcome["helpers"] = builder.uses_helpers
                wait_until(lambda: builder.ahead() == 8)
                futures = [builder.submit(doc, f"<{index}@example.org>") for index, doc in enumerate(docs)]
                outcome["raw"] = builder.result(futures[0], docs[0], "<0@example.org>")
                for index, (future, doc) in enumerate(zip(futures, docs, strict=True)):
                    builder.result(future, doc, f"<{index}@example.org>")
                outcome["still helpers"] = builder.uses_helpers

    app = Host()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert outcome["stderr descriptor"] == -1  # what multiprocessing cannot hand over
    assert outcome["helpers"] and outcome["still helpers"]
    assert docs[0].number in attachment_text(outcome["raw"])
