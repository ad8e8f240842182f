"""Messages built ahead of the sending: in helper processes, or here when they cannot help."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from email import message_from_bytes, policy

import pymupdf
import pytest

from tuiapp.core.documents import InvoiceDocument, document_for
from tuiapp.core.message_builder import MAX_RESTARTS, BuildFailed, MessageBuilder, helper_count
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
        for index, (raw, doc) in enumerate(zip(built, docs, strict=True)):
            assert f"Message-ID: <{index}@example.org>".encode() in raw
            assert doc.number in attachment_text(raw)
        assert builder.uses_helpers  # new helpers, started meanwhile
        wait_until(lambda: builder.ahead() == 8)
        assert not set(helpers) & {child.pid for child in multiprocessing.active_children()}
        again = builder.submit(docs[0], "<again@example.org>")
        assert docs[0].number in attachment_text(builder.result(again, docs[0], "<again@example.org>"))


def test_helpers_that_keep_dying_are_replaced_twice_then_not(docs):
    with MessageBuilder(in_helpers=True, prefetch=8) as builder:
        for _ in range(MAX_RESTARTS + 1):
            wait_until(lambda: builder.ahead() == 8)
            future = builder.submit(docs[0], "<x@example.org>")
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
            assert docs[0].number in attachment_text(builder.result(future, docs[0], "<x@example.org>"))
        assert not builder.uses_helpers
        assert builder.submit(docs[1], "<y@example.org>").done()  # built here from now on


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


# Run in a process of its own: multiprocessing starts its resource tracker
# once per process, and here it must start while Textual holds sys.stderr.
_UNDER_THE_TUI = """
import json, os, sys, time
from textual.app import App
from tests.test_message_builder import sample_documents
from tuiapp.core.message_builder import MessageBuilder
import multiprocessing

docs = sample_documents()
outcome = {}

class Host(App):
    def on_mount(self):
        self.run_worker(self.build, thread=True)

    def build(self):
        outcome["stderr descriptor"] = sys.stderr.fileno()
        with MessageBuilder(in_helpers=True, prefetch=8) as builder:
            outcome["helpers"] = builder.uses_helpers
            deadline = time.monotonic() + 30
            while builder.ahead() == 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            outcome["helpers' stderr"] = sorted(
                os.readlink(f"/proc/{child.pid}/fd/2") for child in multiprocessing.active_children()
            )
            futures = [builder.submit(doc, f"<{i}@example.org>") for i, doc in enumerate(docs)]
            outcome["sizes"] = [len(builder.result(f, d, f"<{i}@example.org>"))
                                for i, (f, d) in enumerate(zip(futures, docs))]
            outcome["still helpers"] = builder.uses_helpers
        self.call_from_thread(self.exit)

Host().run(headless=True)
print(json.dumps(outcome))
"""


def sample_documents():
    """Three invoices, without a database (for a process of their own)."""
    from datetime import date
    from decimal import Decimal

    from tuiapp.core.documents import InvoiceDocument, InvoiceLineData

    return [
        InvoiceDocument(
            invoice_id=index, number=f"FH-202409-{index:03d}", period=Period(2024, 9), issue_date=date(2024, 9, 30),
            amount_ht=Decimal("1752.00"),
            lines=(InvoiceLineData("Hébergement", Decimal(30), Decimal("58.40"), Decimal("1752.00")),),
            association_name="Association", association_address="1 rue X\n59000 Lille", structure_code="FH",
            structure_name="Foyer", structure_address="", sender_email="facturation@example.org",
            sender_name="Foyer", reply_to=None, bcc=None, subject_template="Facture &periode",
            body_template="Bonjour &personne", resident_last_name=f"NOM{index}", resident_first_name="Prénom",
            guardian_name="", recipients=("a@example.org",),
        )
        for index in range(3)
    ]


def test_helpers_start_under_the_tui_and_keep_off_its_terminal():
    """Textual replaces sys.stderr with an object whose descriptor is -1."""
    import json
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", _UNDER_THE_TUI], capture_output=True, text=True, timeout=120,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert run.returncode == 0, run.stderr[-2000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["stderr descriptor"] == -1  # what multiprocessing cannot hand over
    assert outcome["helpers"] and outcome["still helpers"]
    assert outcome["helpers' stderr"] and set(outcome["helpers' stderr"]) == {"/dev/null"}
    assert len(outcome["sizes"]) == 3 and min(outcome["sizes"]) > 50_000  # each with its PDF


def test_helpers_ignore_ctrl_c(docs):
    with MessageBuilder(in_helpers=True, prefetch=8) as builder:
        wait_until(lambda: builder.ahead() == 8)
        helpers = {child.pid for child in multiprocessing.active_children()}
        for pid in helpers:
            os.kill(pid, signal.SIGINT)  # what a terminal's Ctrl+C sends the whole group
        time.sleep(0.3)
        future = builder.submit(docs[0], "<x@example.org>")
        assert docs[0].number in attachment_text(builder.result(future, docs[0], "<x@example.org>"))
        assert {child.pid for child in multiprocessing.active_children()} == helpers  # the same, alive


def test_a_helper_whose_parent_is_gone_ends_at_once():
    import subprocess

    code = "from tuiapp.core.message_builder import _prepare_helper; _prepare_helper(False, 1); print('alive')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "alive" not in run.stdout


@dataclass(frozen=True, slots=True)
class _Deadly(InvoiceDocument):
    """An invoice whose building kills the process that builds it (a renderer crash)."""

    @property
    def keyword_values(self) -> dict[str, str]:
        os._exit(70)


def test_an_invoice_that_kills_its_helper_fails_alone(docs):
    deadly = _Deadly(**{name: getattr(docs[0], name) for name in InvoiceDocument.__slots__})
    with MessageBuilder(in_helpers=True, prefetch=8) as builder:
        wait_until(lambda: builder.ahead() == 8)
        crash = builder.submit(deadly, "<deadly@example.org>")
        with pytest.raises(BuildFailed, match="s'est arrêté deux fois"):
            builder.result(crash, deadly, "<deadly@example.org>")
        assert builder.uses_helpers  # replaced again: the next ones are built in helpers, not here
        wait_until(lambda: builder.ahead() == 8)
        future = builder.submit(docs[1], "<next@example.org>")
        assert docs[1].number in attachment_text(builder.result(future, docs[1], "<next@example.org>"))
