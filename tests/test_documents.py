"""The invoice snapshot handed to PDF rendering and message composition."""

from decimal import Decimal

from tuiapp.core.documents import InvoiceLineData, document_for, lines_of
from tuiapp.db.models import Association, InvoiceLine


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
