"""The send engine against the serial ideal, on the same invoices (run on demand).

    .venv/bin/python benchmarks/send_bench.py [--count 500] [--runs 3] [--profile]

The mail server is aiosmtpd on loopback, STARTTLS with AUTH, in a process of
its own: its processor time is left out. Each run sends COUNT distinct
invoices twice:

  - the serial ideal: for each invoice, the bare markdown-pdf render (fonts
    subset and streams deflated by PyMuPDF, as the app does), then
    the bare ``email`` package composition (EmailMessage, add_attachment,
    as_bytes), then the bare smtplib send, on one connection with
    TCP_NODELAY;
  - the engine end to end (``SendEngine``, pacing off) on a fresh copy of the
    database: queueing, snapshots, PDFs, messages, the claims and
    completions, the send journal and the events are its own cost.

Prints the median of RUNS runs of each, and the two ratios of issue 10:
engine rate / ideal rate (goal >= 0.85) and engine processor time per
message / ideal's (goal <= 1.2). ``--profile`` then profiles one more engine
run (cProfile). Asserts only that every message arrived.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import smtplib
import socket
import ssl
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_process import ServerProcess  # noqa: E402

from tests.smtp_server import PASSWORD, USERNAME  # noqa: E402
from tuiapp.db.database import db, open_database  # noqa: E402
from tuiapp.db.models import Association, Invoice, InvoiceLine, Resident, Structure  # noqa: E402
from tuiapp.db.snapshots import document_for  # noqa: E402
from tuiapp.domain.formatting import period_label  # noqa: E402
from tuiapp.domain.templates import render  # noqa: E402
from tuiapp.mail.compose import envelope_recipients  # noqa: E402
from tuiapp.mail.smtp_client import PasswordAuthenticator, SmtpSettings  # noqa: E402
from tuiapp.pdf.invoice import _BORDERS, _CSS, invoice_markdown, pdf_filename  # noqa: E402
from tuiapp.sending import outbox  # noqa: E402
from tuiapp.sending.engine import SendEngine  # noqa: E402


def build(path: Path, count: int) -> list[int]:
    open_database(path)
    structure = Structure.create(code="BENCH", name="Foyer de mesure", sender_email="facturation@example.org",
                                 sender_name="Foyer de mesure")
    ids = []
    with db.atomic():
        for index in range(count):
            resident = Resident.create(structure=structure, last_name=f"NOM{index:04d}", first_name="Prénom",
                                       email=f"r{index}@example.org", guardian_email=f"t{index % 17}@example.net")
            invoice = Invoice.create(resident=resident, structure=structure, period_year=2024, period_month=9,
                                     number=f"B-{index:05d}", issue_date=date(2024, 9, 30),
                                     amount_ht=Decimal("1752.00"))
            InvoiceLine.create(invoice=invoice, position=1, label="Contribution aux frais d'hébergement",
                               quantity=Decimal(30), unit_price=Decimal("58.40"), amount=Decimal("1752.00"))
            ids.append(invoice.id)
    db.close()
    return ids


@dataclass
class Item:
    """One invoice, as plain inputs for the ideal."""

    markdown: str
    title: str
    author: str
    sender: str
    sender_name: str
    recipients: list[str]
    subject: str
    body: str
    filename: str


def items(path: Path, invoice_ids: list[int]) -> list[Item]:
    open_database(path)
    association = Association.get_solo()
    result = []
    for invoice in Invoice.select().where(Invoice.id.in_(invoice_ids)).order_by(Invoice.id):
        doc = document_for(invoice, association)
        values = doc.keyword_values
        result.append(Item(
            markdown=invoice_markdown(doc),
            title=f"Facture {doc.number} - {doc.resident_name} - {period_label(doc.period)}",
            author=doc.structure_name, sender=doc.sender_email or "", sender_name=doc.sender_name,
            recipients=envelope_recipients(doc), subject=render(doc.subject_template, values).strip(),
            body=render(doc.body_template, values) + "\n", filename=pdf_filename(doc),
        ))
    db.close()
    return result


@dataclass
class Run:
    seconds: float
    cpu: float
    phases: tuple[float, float, float] = (0.0, 0.0, 0.0)  # ideal: render, compose, send (processor seconds)


def bare_pdf(item: Item) -> bytes:
    import pymupdf
    from markdown_pdf import MarkdownPdf, Section

    pdf = MarkdownPdf(toc_level=0, optimize=True)
    now = datetime.now().strftime("D:%Y%m%d%H%M%S+00'00'")
    pdf.meta = {"creationDate": now, "modDate": now, "creator": "tuiapp", "producer": "tuiapp",
                "title": item.title, "author": item.author, "subject": "Facture de contribution", "keywords": ""}
    pdf.add_section(Section(item.markdown, toc=False, borders=_BORDERS), user_css=_CSS)
    buffer = io.BytesIO()
    pdf.save_bytes(buffer)
    with pymupdf.open(stream=buffer.getvalue(), filetype="pdf") as document:  # fonts subset, streams deflated
        document.subset_fonts()
        return document.tobytes(garbage=4, deflate=True, use_objstms=1)


def bare_message(item: Item, pdf: bytes) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((item.sender_name, item.sender))
    message["To"] = ", ".join(item.recipients)
    message["Subject"] = item.subject
    message["Date"] = format_datetime(datetime.now().astimezone())
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(item.body)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=item.filename)
    return message.as_bytes()


def ideal(server: ServerProcess, inputs: list[Item]) -> Run:
    render_s = compose_s = send_s = 0.0  # processor time of each step
    start, cpu = time.perf_counter(), time.process_time()
    smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    smtp.starttls(context=ssl.create_default_context(cafile=str(server.ca_file)))
    smtp.login(USERNAME, PASSWORD)
    for item in inputs:
        a = time.process_time()
        pdf = bare_pdf(item)
        b = time.process_time()
        payload = bare_message(item, pdf)
        c = time.process_time()
        smtp.sendmail(item.sender, item.recipients, payload)
        render_s, compose_s, send_s = render_s + b - a, compose_s + c - b, send_s + time.process_time() - c
    smtp.quit()
    return Run(time.perf_counter() - start, time.process_time() - cpu, (render_s, compose_s, send_s))


def engine(server: ServerProcess, template: Path, invoice_ids: list[int], folder: Path,
           profiler: cProfile.Profile | None = None) -> Run:
    path = folder / "engine.db"
    shutil.copyfile(template, path)
    open_database(path)
    settings = SmtpSettings(host="127.0.0.1", port=server.port, username=USERNAME, ca_file=str(server.ca_file),
                            rate_per_minute=0)
    events = []
    sender = SendEngine(settings, PasswordAuthenticator(USERNAME, lambda: PASSWORD), operator="bench",
                        on_event=events.append)
    if profiler is not None:
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    queued = outbox.queue_invoices(invoice_ids, operator="bench")
    finished = sender.run(queued.record_ids, batch=queued.batch)
    run = Run(time.perf_counter() - start, time.process_time() - cpu)
    if profiler is not None:
        profiler.disable()
    db.close()
    for leftover in folder.glob("engine.db*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    assert finished.sent == len(invoice_ids), finished
    return run


class Breakdown:
    """Wall and processor time spent in the engine's steps (wrapped for one run)."""

    def __init__(self) -> None:
        from tuiapp.mail.smtp_client import SmtpConnection
        from tuiapp.sending import engine, journal

        self.steps = ((engine, "build_message"), (outbox, "claim"), (journal, "reserve"), (SmtpConnection, "send"),
                      (journal.Slot, "record"), (outbox, "complete"), (journal.Slot, "discard"))
        self.totals: dict[str, list[float]] = {}
        self._saved: list[tuple[object, str, object]] = []

    def __enter__(self) -> Breakdown:
        for owner, name in self.steps:
            original = getattr(owner, name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._timed(name, original))
        return self

    def _timed(self, name, function):
        totals = self.totals.setdefault(name, [0.0, 0.0])

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                totals[0] += time.perf_counter() - wall
                totals[1] += time.process_time() - cpu

        return timed

    def __exit__(self, *exc) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)


def median_run(runs: list[Run]) -> Run:
    return Run(statistics.median(r.seconds for r in runs), statistics.median(r.cpu for r in runs),
               tuple(statistics.median(r.phases[i] for r in runs) for i in range(3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="distinct invoices (500)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each, the median is kept (3)")
    parser.add_argument("--profile", action="store_true", help="then profile one more engine run")
    parser.add_argument("--breakdown", action="store_true", help="then time the steps of one more engine run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    server = ServerProcess(folder)
    try:
        template = folder / "template.db"
        invoice_ids = build(template, args.count)
        inputs = items(template, invoice_ids)
        bare_pdf(inputs[0])  # warm-up: imports and fonts, for both
        load = os.getloadavg()[0]
        ideals, engines = [], []
        for _ in range(args.runs):  # interleaved, so that a busy moment hits both
            ideals.append(ideal(server, inputs))
            assert server.received() == args.count
            engines.append(engine(server, template, invoice_ids, folder))
            assert server.received() == args.count
        best, measured = median_run(ideals), median_run(engines)
        n, per = args.count, 1000 / args.count
        render_ms, compose_ms, send_ms = (phase * per for phase in best.phases)
        print(f"invoices {n}, median of {args.runs} runs each, load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
        print(f"serial ideal: {n / best.seconds:6.1f} messages/s, CPU {best.cpu * per:5.1f} ms/message"
              f" (of which render {render_ms:.1f}, compose {compose_ms:.1f}, send {send_ms:.1f})")
        print(f"engine:       {n / measured.seconds:6.1f} messages/s, CPU {measured.cpu * per:5.1f} ms/message")
        print(f"rate ratio engine / ideal: {best.seconds / measured.seconds:.2f} (goal >= 0.85)")
        print(f"CPU ratio engine / ideal:  {measured.cpu / best.cpu:.2f} (goal <= 1.2)")
        if args.breakdown:
            with Breakdown() as steps:
                whole = engine(server, template, invoice_ids, folder)
            server.received()
            print(f"one more engine run, by step (wall / CPU per message): whole {whole.seconds * per:.2f} / "
                  f"{whole.cpu * per:.2f} ms")
            for name, (wall, cpu) in steps.totals.items():
                print(f"  {name:14s} {wall * per:6.2f} / {cpu * per:5.2f} ms")
        if args.profile:
            profiler = cProfile.Profile()
            engine(server, template, invoice_ids, folder, profiler)
            server.received()
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
                print(out.getvalue())
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
