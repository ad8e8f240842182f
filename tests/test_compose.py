"""Invoice PDFs and the e-mails that carry them."""

from dataclasses import replace
from datetime import UTC, date
from decimal import Decimal
from email import message_from_bytes, policy

import pymupdf
import pytest

from tuiapp.db import queries
from tuiapp.db.models import Association, Resident
from tuiapp.db.snapshots import document_for
from tuiapp.domain.documents import InvoiceDocument, InvoiceLineData
from tuiapp.domain.periods import Period
from tuiapp.mail.compose import (
    CompositionError,
    compose,
    envelope_recipients,
    invoice_message_bytes,
    message_bytes,
)
from tuiapp.pdf.invoice import invoice_pdf, pdf_filename


@pytest.fixture
def doc() -> InvoiceDocument:
    return InvoiceDocument(
        invoice_id=1, number="FH-202409-007", period=Period(2024, 9), issue_date=date(2024, 9, 30),
        amount_ht=Decimal("1234.56"),
        lines=(InvoiceLineData("Hébergement", Decimal(30), Decimal("41.15"), Decimal("1234.50")),
               InvoiceLineData("Arrondi <b>*gras*</b> | [lien](x)", Decimal(1), Decimal("0.06"), Decimal("0.06"))),
        association_name="Les Papillons Blancs", association_address="8 place du Général de Gaulle\n59200 Tourcoing",
        structure_code="FH", structure_name="Foyer Les Tilleuls", structure_address="12 rue des Tilleuls",
        sender_email="facturation@example.org", sender_name="Foyer Les Tilleuls, facturation",
        reply_to="compta@example.org", bcc="archive@example.org",
        subject_template="Facture &numero - &periode",
        body_template="Vous trouverez ci-joint la facture de &personne pour la période de &periode",
        resident_last_name="Mailly", resident_first_name="Josiane", guardian_name="UDAF du Nord",
        recipients=("josiane.mailly@example.org", "udaf@example.org"),
    )


def parse(message):
    return message_from_bytes(message_bytes(message), policy=policy.default)


def test_pdf_reads_back_and_is_small(doc):
    pdf = invoice_pdf(doc)
    assert len(pdf) < 120_000
    document = pymupdf.open(stream=pdf, filetype="pdf")
    text = document[0].get_text()
    for expected in ("FH-202409-007", "MAILLY Josiane", "septembre 2024", "1 234,56 €", "UDAF du Nord",
                     "Arrondi <b>*gras*</b> | [lien](x)", "Les Papillons Blancs", "30 septembre 2024"):
        assert expected in text.replace("\u00a0", " "), expected
    assert document.metadata["title"] == "Facture FH-202409-007 - MAILLY Josiane - septembre 2024"


def test_each_pdf_has_its_own_metadata(doc, monkeypatch):
    from datetime import UTC, datetime

    from markdown_pdf import MarkdownPdf

    # MarkdownPdf.meta is shared by all instances, its dates frozen at import.
    monkeypatch.setitem(MarkdownPdf.meta, "creationDate", "D:20000101000000")
    metadata = pymupdf.open(stream=invoice_pdf(doc), filetype="pdf").metadata
    assert metadata["creationDate"].startswith(f"D:{datetime.now(UTC):%Y%m%d}")
    assert metadata["author"] == "Foyer Les Tilleuls"
    assert MarkdownPdf.meta["creationDate"] == "D:20000101000000"  # left as it was
    assert MarkdownPdf.meta["title"] is None


def test_pdf_file_name_keeps_accents(doc):
    assert pdf_filename(doc) == "Facture_FH-202409-007_MAILLY_Josiane_2024-09.pdf"
    odd = replace(doc, resident_last_name="N'Diaye / de l'Étang", resident_first_name="Zoé")
    assert pdf_filename(odd) == "Facture_FH-202409-007_N-DIAYE-DE-L-ÉTANG_Zoé_2024-09.pdf"


def test_message_headers_and_body(doc):
    message = parse(compose(doc, b"%PDF-1.4 fake", pdf_filename(doc)))
    assert message["From"] == '"Foyer Les Tilleuls, facturation" <facturation@example.org>'
    assert message["To"] == "josiane.mailly@example.org, udaf@example.org"
    assert message["Reply-To"] == "compta@example.org"
    assert message["Bcc"] is None  # the copy goes in the envelope only
    assert message["Subject"] == "Facture FH-202409-007 - septembre 2024"
    assert message["Date"] is not None
    assert message["Message-ID"].endswith("@example.org>")
    body = message.get_body(("plain",)).get_content()
    assert body.rstrip() == "Vous trouverez ci-joint la facture de MAILLY Josiane pour la période de septembre 2024"
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 fake"
    assert envelope_recipients(doc) == ["josiane.mailly@example.org", "udaf@example.org", "archive@example.org"]


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 114, 1000, 100_001])
def test_invoice_message_carries_the_attachment_intact_in_short_lines(doc, size):
    from datetime import datetime

    pdf = bytes(range(256)) * (size // 256) + bytes(size % 256)
    when = datetime(2024, 10, 1, 9, 30, tzinfo=UTC)
    raw = invoice_message_bytes(doc, pdf, pdf_filename(doc), message_id="<fixed@example.org>", date=when)
    assert raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)  # CRLF only, no bare LF or CR
    assert max(len(line) for line in lines) <= 998
    encoded = raw.split(b"Content-Disposition: attachment", 1)[1].split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0]
    assert encoded == b"" or encoded.endswith(b"\r\n")
    *full, last = encoded.removesuffix(b"\r\n").split(b"\r\n")
    assert all(len(line) == 76 for line in full) and len(last) <= 76  # base64 lines of 76, then CRLF
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Message-ID"] == "<fixed@example.org>"
    assert message["Date"] == "Tue, 01 Oct 2024 09:30:00 +0000"
    assert message["Subject"] == "Facture FH-202409-007 - septembre 2024"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/mixed"
    attachment = next(message.iter_attachments())
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_content() == pdf


def test_fast_invoice_message_carries_the_real_pdf(doc):
    pdf = invoice_pdf(doc)
    message = message_from_bytes(invoice_message_bytes(doc, pdf, pdf_filename(doc)), policy=policy.default)
    attachment = next(message.iter_attachments())
    assert attachment.get_content() == pdf
    assert attachment.get_filename() == pdf_filename(doc)


def test_accented_file_name_survives_rfc2231(doc):
    accented = replace(doc, resident_last_name="Lefèvre", resident_first_name="Éliane")
    raw = message_bytes(compose(accented, b"%PDF", pdf_filename(accented)))
    assert b"filename*=utf-8''Facture_FH-202409-007_LEF%C3%88VRE_%C3%89liane_2024-09.pdf" in raw
    message = message_from_bytes(raw, policy=policy.default)
    assert next(message.iter_attachments()).get_filename() == "Facture_FH-202409-007_LEFÈVRE_Éliane_2024-09.pdf"


def test_long_subject_is_not_folded_into_a_leading_space(doc):
    long = replace(doc, subject_template="Votre facture de contribution de &periode - &personne - &structure")
    message = parse(compose(long, b"%PDF", "f.pdf"))
    assert message["Subject"] == (
        "Votre facture de contribution de septembre 2024 - MAILLY Josiane - Foyer Les Tilleuls"
    )
    raw = message_bytes(compose(long, b"%PDF" * 5000, "f.pdf"))
    body_lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in body_lines) <= 78  # base64 and quoted-printable stay short


@pytest.mark.parametrize("field", ["sender_name", "sender_email", "reply_to", "subject_template", "resident_last_name"])
def test_line_breaks_in_headers_are_refused(doc, field):
    injected = replace(doc, **{field: "x\r\nBcc: victim@example.org"})
    if field == "resident_last_name":
        injected = replace(injected, subject_template="Facture de &personne")
    with pytest.raises(CompositionError, match="retour à la ligne"):
        compose(injected, b"%PDF", "f.pdf")


def test_line_breaks_in_recipients_are_refused(doc):
    with pytest.raises(CompositionError, match="retour à la ligne"):
        compose(replace(doc, recipients=("a@example.org\r\nBcc: victim@example.org",)), b"%PDF", "f.pdf")


def test_each_invoice_has_its_own_message_id(demo_db):
    association = Association.get_solo()
    invoices = list(queries.invoices_to_mail(Period(2024, 9)))
    shared = {}
    for invoice in invoices:
        if invoice.resident.guardian_email:
            shared.setdefault(invoice.resident.guardian_email, []).append(invoice)
    group = next(group for group in shared.values() if len(group) >= 2)
    messages = [compose(document_for(i, association), b"%PDF", "f.pdf") for i in group]
    assert len({m["Message-ID"] for m in messages}) == len(group)
    assert all(group[0].resident.guardian_email in m["To"] for m in messages)


def test_missing_sender_is_a_clear_error(doc):
    with pytest.raises(CompositionError, match="expéditeur"):
        compose(replace(doc, sender_email=None), b"%PDF", "f.pdf")
    with pytest.raises(CompositionError, match="aucune adresse"):
        compose(replace(doc, recipients=()), b"%PDF", "f.pdf")


def test_document_takes_addresses_deduplicated(demo_db):
    resident = Resident.select().where(Resident.email.is_null(False), Resident.guardian_email.is_null(False)).first()
    resident.guardian_email = resident.email.upper()
    resident.save()
    invoice = resident.invoices.first()
    assert document_for(invoice, Association.get_solo()).recipients == (resident.email,)
