"""Imported PDFs, credit notes and rectified invoices sent for real: ``tuiapp send`` (in the test
process, ``tests.cli_runner``, and once as a real process), the real SMTP server on loopback, the
attachment's bytes compared at the server."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from decimal import Decimal

import pymupdf
import pytest

from tests.cli_runner import run_cli as tuiapp
from tests.conftest import point_at
from tuiapp.db.database import db, open_database
from tuiapp.db.models import Invoice, SendRecord, Structure
from tuiapp.db.queries import send_rows
from tuiapp.domain.formatting import format_amount
from tuiapp.domain.periods import Period
from tuiapp.services.import_pdfs import import_pdfs
from tuiapp.widgets import send_cells

SEPTEMBER = Period(2024, 9)


def tuiapp_process(*args):
    return subprocess.run([sys.executable, "-m", "tuiapp", *args], capture_output=True, text=True, timeout=120)


def make_pdf(text: str) -> bytes:
    with pymupdf.open() as document:
        document.new_page().insert_text((72, 72), text)
        return document.tobytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def received(server) -> dict[str, tuple[str, str, bytes]]:
    """Invoice number (from the attachment's name) -> (subject, attachment name, attachment bytes)."""
    found = {}
    for message in (r.message for r in server.received):
        attachment = next(message.iter_attachments())
        found[attachment.get_filename().split("_")[1]] = (
            str(message["Subject"]), attachment.get_filename(), attachment.get_content())
    return found


@pytest.fixture
def office(make_resident, make_invoice, server):
    """Two invoices of September mailed through the test server, one with its own PDF."""
    point_at(server)
    josiane = make_resident("MAILLY", "Josiane", email="josiane@example.org")
    jean = make_resident("DUPONT", "Jean", email="jean@example.org")
    return {"own": make_invoice(josiane, number="FH-2024-001", amount="1234.56"),
            "generated": make_invoice(jean, number="FH-2024-002", amount="99.00")}


def test_the_message_carries_exactly_the_imported_bytes(office, server, tmp_path, db_arg, db_target):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    own = folder / "Facture FH-2024-001.pdf"
    own.write_bytes(make_pdf("La facture du logiciel de facturation"))
    db.close()
    imported = tuiapp("import", "pdfs", str(folder), "--db", db_arg)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "PDF joints à leur facture : 1 (1 nouveau)." in imported.stdout
    assert "Septembre 2024 : 1 document sans PDF importé, un PDF sera généré : FH-2024-002 (DUPONT Jean)." \
        in imported.stdout
    open_database(db_target)
    rows = {row.number: row for row in send_rows(SEPTEMBER)}
    assert str(send_cells.document(rows["FH-2024-001"])) == "Facture, PDF importé"
    assert str(send_cells.document(rows["FH-2024-002"])) == "Facture, PDF généré"
    db.close()
    base = ["--db", db_arg, "--period", str(SEPTEMBER)]

    dry = tuiapp("send", *base, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Fichier : Facture_FH-2024-001_MAILLY_Josiane_2024-09.pdf (PDF importé)" in dry.stdout
    assert "Fichier : Facture_FH-2024-002_DUPONT_Jean_2024-09.pdf (PDF généré)" in dry.stdout
    assert "2 factures seraient envoyées ; PDF : 1 importé, 1 généré" in dry.stdout

    sent = tuiapp_process("send", *base, "--yes")  # the real command, end to end
    assert sent.returncode == 0, sent.stderr
    messages = received(server)
    _, name, data = messages["FH-2024-001"]
    assert name == "Facture_FH-2024-001_MAILLY_Josiane_2024-09.pdf"  # the name stays the invoice's
    assert sha256(data) == sha256(own.read_bytes())  # exactly the file's bytes, decoded at the server
    generated = messages["FH-2024-002"][2]
    with pymupdf.open(stream=generated, filetype="pdf") as document:
        assert "FH-2024-002" in document[0].get_text()

    open_database(db_target)
    records = {record.invoice.number: record for record in SendRecord.select(SendRecord, Invoice).join(Invoice)}
    assert records["FH-2024-001"].amount_ht == Decimal("1234.56")
    assert records["FH-2024-001"].pdf_sha256 == sha256(own.read_bytes())
    assert (records["FH-2024-002"].amount_ht, records["FH-2024-002"].pdf_sha256) == (Decimal("99.00"),
                                                                                    sha256(generated))
    db.close()
    history = tuiapp("history", "--db", db_arg)
    assert history.returncode == 0, history.stderr
    line = next(line for line in history.stdout.splitlines() if "FH-2024-001" in line)
    assert format_amount(Decimal("1234.56")) in line and sha256(own.read_bytes())[:12] in line


def test_an_avoir_is_imported_then_sent_as_an_avoir(make_resident, server, tmp_path, db_arg, db_target):
    point_at(server)
    structure = Structure.get()
    structure.subject_template = "&Document &numero de &personne"
    structure.save()
    make_resident(email="josiane@example.org", external_id="R-12")
    db.close()
    export = tmp_path / "avoirs.csv"  # the billing software's export, as Excel writes it in France
    export.write_bytes("N° facture;N° résident;Période;Date facture;Type;Montant HT\r\n"
                       "AV-2024-001;R-12;septembre 2024;30/09/2024;Avoir;-120,00\r\n".encode("cp1252"))
    imported = tuiapp("import", "invoices", str(export), "--db", db_arg)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    open_database(db_target)
    credit = Invoice.get(Invoice.number == "AV-2024-001")
    assert credit.kind == "avoir" and credit.amount_ht == Decimal("-120.00")
    row = send_rows(SEPTEMBER)[0]
    assert row.is_credit_note and str(send_cells.document(row)) == "Avoir, PDF généré"
    db.close()
    dry = tuiapp("send", "--db", db_arg, "--period", str(SEPTEMBER), "--dry-run")
    assert "AV-2024-001  MAILLY Josiane  (avoir)" in dry.stdout
    assert "Objet   : Avoir AV-2024-001 de MAILLY Josiane" in dry.stdout

    sent = tuiapp("send", "--db", db_arg, "--period", str(SEPTEMBER), "--yes")

    assert sent.returncode == 0, sent.stderr
    subject, name, data = received(server)["AV-2024-001"]
    assert subject == "Avoir AV-2024-001 de MAILLY Josiane"
    assert name == "Avoir_AV-2024-001_MAILLY_Josiane_2024-09.pdf"
    with pymupdf.open(stream=data, filetype="pdf") as document:
        assert document.metadata["title"].startswith("Avoir AV-2024-001")
        assert "-120,00" in document[0].get_text().replace("\u202f", " ").replace("\xa0", " ")
    open_database(db_target)
    assert SendRecord.get(SendRecord.invoice == credit.id).amount_ht == Decimal("-120.00")


def test_a_rectified_invoice_is_sent_again_and_its_history_keeps_the_old_version(office, server,
                                                                                   tmp_path, db_arg, db_target):
    db.close()
    base = ["--db", db_arg, "--period", str(SEPTEMBER)]
    assert tuiapp("send", *base, "--yes").returncode == 0
    first = sha256(received(server)["FH-2024-001"][2])

    open_database(db_target)  # the billing software corrected the invoice: new amount, new PDF
    Invoice.update(amount_ht=Decimal("1300.00")).where(Invoice.id == office["own"].id).execute()
    folder = tmp_path / "pdfs"
    folder.mkdir()
    corrected = folder / "FH-2024-001.pdf"
    corrected.write_bytes(make_pdf("Facture corrigée : 1 300,00"))
    assert import_pdfs(folder).problems[0].reason.startswith("la facture FH-2024-001 a déjà été envoyée")
    assert import_pdfs(folder, update_mailed=True).written
    rows = {row.number: row for row in send_rows(SEPTEMBER)}
    assert rows["FH-2024-001"].rectified and not rows["FH-2024-002"].rectified
    assert str(send_cells.state(rows["FH-2024-001"], "sent")) == "rectifiée"  # its last send was the old one
    assert str(send_cells.state(rows["FH-2024-002"], "sent")) == "envoyée"
    db.close()

    dry = tuiapp("send", *base, "--dry-run")
    assert "1 facture serait envoyée" in dry.stdout and "FH-2024-001" in dry.stdout
    again = tuiapp("send", *base, "--yes")
    assert again.returncode == 0, again.stderr
    assert len(server.received) == 3
    assert sha256(next(server.received[-1].message.iter_attachments()).get_content()) == sha256(corrected.read_bytes())

    open_database(db_target)
    versions = [(record.amount_ht, record.pdf_sha256) for record in
                SendRecord.select().where(SendRecord.invoice == office["own"].id).order_by(SendRecord.id)]
    assert versions == [(Decimal("1234.56"), first), (Decimal("1300.00"), sha256(corrected.read_bytes()))]
    invoice = Invoice.get_by_id(office["own"].id)
    assert invoice.last_mailed_at is not None and invoice.rectified_at is not None
    assert not send_rows(SEPTEMBER)[1].rectified  # mailed since: no longer shown as rectifiée
    db.close()
    history = tuiapp("history", "--db", db_arg).stdout.splitlines()
    own_lines = [line for line in history if "FH-2024-001" in line]
    assert format_amount(Decimal("1234.56")) in own_lines[0] and format_amount(Decimal("1300")) in own_lines[1]
