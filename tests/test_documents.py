"""The invoice snapshot handed to PDF rendering and message composition."""

from decimal import Decimal
from email import message_from_bytes
from email.policy import default

from tests.raw import write_around
from tuiapp.db.models import Association, Invoice, InvoiceLine
from tuiapp.db.snapshots import document_for, lines_of
from tuiapp.domain.documents import InvoiceLineData


def add_line(invoice, position, label, amount):
    InvoiceLine.create(invoice=invoice, position=position, label=label, quantity=Decimal(1),
                       unit_price=Decimal(amount), amount=Decimal(amount))


def test_lines_of_many_invoices_in_their_order(make_resident, make_invoice):
    first = make_invoice(make_resident())
    second = make_invoice(make_resident("DUPONT", "Marcel"))
    empty = make_invoice(make_resident("ZOLA", "Émile"))
    add_line(first, 2, "Repas", "120.00")
    add_line(second, 1, "Hébergement", "900.00")
    add_line(first, 1, "Hébergement", "1114.56")

    lines = lines_of([first.id, second.id, empty.id])

    assert lines[first.id] == (
        InvoiceLineData("Hébergement", Decimal(1), Decimal("1114.56"), Decimal("1114.56")),
        InvoiceLineData("Repas", Decimal(1), Decimal("120.00"), Decimal("120.00")),
    )
    assert [line.label for line in lines[second.id]] == ["Hébergement"]
    assert empty.id not in lines


def test_lines_read_ahead_give_the_same_document(make_resident, make_invoice):
    invoice = make_invoice(make_resident(email="josiane@example.org"))
    add_line(invoice, 1, "Hébergement", "1234.56")
    association = Association.get_solo()

    on_its_own = document_for(invoice, association)
    read_ahead = document_for(invoice, association, lines_of([invoice.id])[invoice.id])

    assert on_its_own == read_ahead
    assert [line.amount for line in on_its_own.lines] == [Decimal("1234.56")]
    assert on_its_own.recipients == ("josiane@example.org",)


def test_a_hostile_row_written_around_validation_reaches_neither_mail_nor_pdf_raw(make_resident, make_invoice,
                                                                                   database):
    """A bad import writes straight into SQLite: ESC, BEL, NUL, U+2028 in names, the number, the templates."""
    import pymupdf

    from tuiapp.mail.compose import invoice_message_bytes
    from tuiapp.pdf.invoice import invoice_pdf

    resident = make_resident(email="josiane@example.org")
    invoice = make_invoice(resident)
    add_line(invoice, 1, "Hébergement", "1234.56")
    write_around("UPDATE resident SET last_name = ?, first_name = ? WHERE id = ?",
                 ("MAILLY\u2028X", "Jo\x1b]52;c;cHduZWQ=\x07siane", resident.id))
    write_around("UPDATE invoice SET number = ? WHERE id = ?", ("FH\x1b[2J-001", invoice.id))
    write_around("UPDATE invoice_line SET label = ? WHERE invoice_id = ?", ("Repas\x00", invoice.id))
    write_around("UPDATE structure SET subject_template = ?, body_template = ?, name = ?",
                 ("Facture\x1b]0;pwned\x07 &numero", "Bonjour\x00\x1b[2J &personne\nligne 2\tfin",
                  "Foyer\u202eLes Tilleuls"))
    doc = document_for(Invoice.get_by_id(invoice.id), Association.get_solo())

    raw = invoice_message_bytes(doc, b"%PDF-1.4 stand-in", "facture.pdf")
    assert not any(code in raw for code in (b"\x1b", b"\x00", b"\x07")), raw
    body = message_from_bytes(raw, policy=default).get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Bonjour\ufffd\ufffd[2J MAILLY\ufffdX Jo\ufffd]52;c;cHduZWQ=\ufffdsiane\nligne 2\tfin" in body

    with pymupdf.open(stream=invoice_pdf(doc), filetype="pdf") as pdf:  # U+2028 gave ValueError
        text = pdf[0].get_text()
    assert "MAILLY" in text and "Repas" in text
