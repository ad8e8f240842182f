"""How fast the engine sends, against the floor of bare smtplib (run on demand).

    .venv/bin/python benchmarks/send_bench.py [--count 500]

A loopback aiosmtpd server with STARTTLS (certificate made here) and AUTH;
pacing off. Prints:
  - PDFs rendered per second (one thread);
  - the engine end to end: messages per second, PDFs and database included;
  - the floor: the same messages, prebuilt, through bare smtplib on one
    connection with TCP_NODELAY;
  - the ratio engine / floor;
  - where the processor time goes, per message: the floor (client and
    server, which share this process) and the engine's process (PDF and
    message building, sending, database, and the same server); and the best
    ratio this machine allows, since the engine cannot be faster than its
    own process.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import socket
import ssl
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.smtp_server import PASSWORD, USERNAME, SmtpTestServer  # noqa: E402
from tuiapp.sending import outbox  # noqa: E402
from tuiapp.mail.compose import compose, envelope_recipients, message_bytes  # noqa: E402
from tuiapp.db.snapshots import document_for  # noqa: E402
from tuiapp.sending.engine import SendEngine  # noqa: E402
from tuiapp.pdf.invoice import invoice_pdf, pdf_filename  # noqa: E402
from tuiapp.mail.smtp_client import PasswordAuthenticator, SmtpSettings  # noqa: E402
from tuiapp.db.database import db, open_database  # noqa: E402
from tuiapp.db.models import Association, Invoice, InvoiceLine, Resident, Structure  # noqa: E402


def build(count: int) -> list[int]:
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
    return ids


def floor(server: SmtpTestServer, messages: list[tuple[bytes, str, list[str]]]) -> float:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    smtp.starttls(context=context)
    smtp.login(USERNAME, PASSWORD)
    for payload, sender, recipients in messages:
        smtp.sendmail(sender, recipients, payload)
    smtp.quit()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    server = SmtpTestServer(folder).start()
    try:
        open_database(folder / "bench.db")
        invoice_ids = build(args.count)
        association = Association.get_solo()
        docs = [document_for(invoice, association) for invoice in Invoice.select().where(Invoice.id.in_(invoice_ids))]

        start = time.perf_counter()
        pdfs = [invoice_pdf(doc) for doc in docs]
        pdf_seconds = time.perf_counter() - start
        messages = [
            (message_bytes(compose(doc, pdf, pdf_filename(doc))), doc.sender_email, envelope_recipients(doc))
            for doc, pdf in zip(docs, pdfs, strict=True)
        ]
        cpu = time.process_time()
        floor_seconds = floor(server, messages)
        floor_cpu = time.process_time() - cpu
        server.handler.received.clear()

        settings = SmtpSettings(host="127.0.0.1", port=server.port, username=USERNAME,
                                ca_file=str(server.ca_file), rate_per_minute=0)
        engine = SendEngine(settings, PasswordAuthenticator(USERNAME, lambda: PASSWORD), operator="bench")
        start, cpu = time.perf_counter(), time.process_time()
        queued = outbox.queue_invoices(invoice_ids, operator="bench")
        finished = engine.run(queued.record_ids, batch=queued.batch)
        engine_seconds = time.perf_counter() - start
        engine_cpu = time.process_time() - cpu
        assert finished.sent == args.count and len(server.received) == args.count, finished

        size = sum(len(pdf) for pdf in pdfs) / len(pdfs)
        print(f"invoices                       {args.count}")
        print(f"PDF rendering (one thread)     {args.count / pdf_seconds:8.1f} PDFs/s   (average {size / 1024:.0f} KB)")
        print(f"engine, end to end             {args.count / engine_seconds:8.1f} messages/s")
        print(f"bare smtplib, prebuilt (floor) {args.count / floor_seconds:8.1f} messages/s")
        print(f"ratio engine / floor           {floor_seconds / engine_seconds:8.2f}")
        per_message = 1000 / args.count
        ceiling = floor_seconds / engine_cpu
        print(f"CPU per message: floor         {floor_cpu * per_message:8.1f} ms (client and server)")
        print(f"CPU per message: engine        {engine_cpu * per_message:8.1f} ms (PDF, message, sending, database, server)")
        print(f"best ratio (one process)       {ceiling:8.2f}")
    finally:
        server.stop()
        db.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
