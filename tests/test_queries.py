import pytest

from tests.raw import write_around
from tuiapp.db import queries
from tuiapp.db.models import Structure
from tuiapp.domain.periods import Period

SEPTEMBER = Period(2024, 9)


def numbers(query):
    return sorted(invoice.number for invoice in query)


def test_send_list_is_residents_with_invoice_and_address(make_resident, make_invoice):
    own = make_resident("A", "Own", email="own@example.org")
    guardian_only = make_resident("B", "Guardian", guardian_name="UDAF", guardian_email="udaf@example.org")
    both = make_resident("C", "Both", email="c@example.org", guardian_email="udaf@example.org")
    same_twice = make_resident("D", "Same", email="d@example.org", guardian_email="D@Example.org")
    no_address = make_resident("E", "None")
    inactive = make_resident("F", "Gone", email="f@example.org", active=False)
    no_invoice = make_resident("G", "NoInvoice", email="g@example.org")

    for resident in (own, guardian_only, both, same_twice, no_address, inactive):
        make_invoice(resident, SEPTEMBER, number=f"S-{resident.last_name}")
    make_invoice(no_invoice, Period(2024, 8), number="AUG-G")  # another period only

    to_mail = list(queries.invoices_to_mail(SEPTEMBER))
    # The seed: every resident with an invoice and an address, those who have left too.
    assert [invoice.number for invoice in to_mail] == ["S-A", "S-B", "S-C", "S-D", "S-F"]  # ordered by name
    assert queries.invoices_to_mail(SEPTEMBER).count() == 5
    same = next(invoice for invoice in to_mail if invoice.number == "S-D")
    assert same.resident.recipients == ["d@example.org"]  # counted once, sent once
    assert numbers(queries.invoices_without_address(SEPTEMBER)) == ["S-E"]
    overview = queries.period_overview(SEPTEMBER)
    assert (overview.invoices, overview.to_mail, overview.without_address) == (6, 5, 1)
    rows = {row.number: row for row in queries.send_rows(SEPTEMBER)}
    assert sorted(rows) == ["S-A", "S-B", "S-C", "S-D", "S-F"]
    assert not rows["S-F"].active and rows["S-F"].recipients == ["f@example.org"] and rows["S-A"].active
    assert numbers(queries.invoices_to_mail(Period(2024, 8))) == ["AUG-G"]
    assert numbers(queries.invoices_to_mail(Period(2024, 10))) == []


def test_residents_who_left_without_an_address_are_to_print(make_resident, make_invoice):
    make_invoice(make_resident("A", "Left", active=False), SEPTEMBER, number="S-A")
    make_invoice(make_resident("B", "LeftMailed", guardian_email="b@example.org", active=False), SEPTEMBER,
                 number="S-B")
    assert numbers(queries.invoices_without_address(SEPTEMBER)) == ["S-A"]
    assert numbers(queries.invoices_to_mail(SEPTEMBER)) == ["S-B"]


def test_blank_addresses_do_not_count(make_resident, make_invoice, database):
    resident = make_resident("A", "Blank", email="a@example.org")
    make_invoice(resident, SEPTEMBER, number="S-A")
    # Written around the models' cleaning, as an older import might have.
    write_around("UPDATE resident SET email = '   ', guardian_email = '' WHERE id = ?", (resident.id,))
    assert queries.invoices_to_mail(SEPTEMBER).count() == 0
    assert numbers(queries.invoices_without_address(SEPTEMBER)) == ["S-A"]


def test_structure_filter(make_resident, make_invoice, structure):
    other = Structure.create(code="EHPAD", name="EHPAD Le Clos")
    make_invoice(make_resident("A", "Here", email="a@example.org"), SEPTEMBER, number="FH-1")
    make_invoice(make_resident("B", "There", email="b@example.org", structure=other), SEPTEMBER, number="EH-1")
    assert numbers(queries.invoices_to_mail(SEPTEMBER, structure)) == ["FH-1"]
    assert numbers(queries.invoices_to_mail(SEPTEMBER, other.id)) == ["EH-1"]
    assert numbers(queries.invoices_to_mail(SEPTEMBER)) == ["EH-1", "FH-1"]


def test_periods_and_overview(make_resident, make_invoice):
    a = make_resident("A", "A", email="a@example.org")
    b = make_resident("B", "B")
    make_invoice(a, Period(2024, 8))
    make_invoice(a, SEPTEMBER)
    make_invoice(b, SEPTEMBER)
    assert queries.periods_with_invoices() == [SEPTEMBER, Period(2024, 8)]
    assert queries.last_period_with_invoices() == SEPTEMBER
    overview = queries.period_overview(SEPTEMBER)
    assert (overview.invoices, overview.to_mail, overview.without_address, overview.mailed) == (2, 1, 1, 0)


def test_no_invoices_at_all(database):
    assert queries.last_period_with_invoices() is None


def test_french_order_and_accent_insensitive_search(make_resident, make_invoice):
    for last, first in (("ÉTIENNE", "Zoé"), ("ZOLA", "Émile"), ("Duval", "Anne"), ("ÉLIE", "Luc"), ("EVRARD", "Éric")):
        make_invoice(make_resident(last, first, email=f"r{len(last)}{len(first)}@example.org"), SEPTEMBER)
    names = [invoice.resident.last_name for invoice in queries.invoices_to_mail(SEPTEMBER)]
    assert names == ["Duval", "ÉLIE", "ÉTIENNE", "EVRARD", "ZOLA"]
    assert [r.last_name for r in queries.residents(search="etienne")] == ["ÉTIENNE"]
    assert [r.first_name for r in queries.residents(search="EMILE")] == ["Émile"]
    assert list(queries.residents(search="%")) == [] and list(queries.residents(search="_")) == []


def test_resident_search(make_resident):
    make_resident("MAILLY", "Josiane")
    make_resident("DUPONT", "Marcel", guardian_name="UDAF du Nord")
    assert [r.last_name for r in queries.residents(search="mail")] == ["MAILLY"]
    assert [r.last_name for r in queries.residents(search="udaf")] == ["DUPONT"]
    assert [r.last_name for r in queries.residents(search="josiane mailly")] == ["MAILLY"]
    assert len(queries.residents()) == 2


@pytest.mark.sqlite_only  # SQLite's EXPLAIN QUERY PLAN (PostgreSQL's planner scans a small table whole)
def test_send_list_query_uses_the_period_index(make_resident, make_invoice, database):
    make_invoice(make_resident(email="a@example.org"), SEPTEMBER)
    sql, params = queries.invoices_to_mail(SEPTEMBER).sql()
    plan = " ".join(str(row[-1]) for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "invoice_period_year_period_month_structure_id" in plan, plan


def test_invoices_with_people_reads_resident_and_structure_in_one_query(make_resident, make_invoice, database):
    from tuiapp.db.models import Invoice, SendRecord

    other = Structure.create(code="EHPAD", name="EHPAD Le Clos")
    here = make_invoice(make_resident("A", "Here", email="a@example.org"), SEPTEMBER, number="FH-1")
    there = make_invoice(make_resident("B", "There", structure=other), SEPTEMBER, number="EH-1")
    SendRecord.create(invoice=there, recipients="b@example.org")
    executed = []
    engine = database.obj  # the proxy's own database: its method is replaced
    real_execute = engine.execute_sql

    def counting(sql, *args, **kwargs):
        executed.append(sql)
        return real_execute(sql, *args, **kwargs)

    engine.execute_sql = counting
    try:
        invoices = list(queries.invoices_with_people().where(Invoice.id.in_([here.id, there.id]))
                        .order_by(*queries.BY_RESIDENT_NAME))
        seen = [(i.number, i.resident.last_name, i.structure.code) for i in invoices]
        records = list(queries.invoices_with_people(SendRecord.select(SendRecord, Invoice).join(Invoice)))
        record_seen = [(r.invoice.number, r.invoice.resident.last_name, r.invoice.structure.code) for r in records]
    finally:
        del engine.execute_sql
    assert seen == [("FH-1", "A", "FH"), ("EH-1", "B", "EHPAD")]
    assert record_seen == [("EH-1", "B", "EHPAD")]
    assert len(executed) == 2, executed  # one each: no query per invoice for its resident or structure


def test_the_overview_counts_credit_notes_apart(make_resident, make_invoice):
    resident = make_resident(email="r@example.org")
    make_invoice(resident, SEPTEMBER, number="F-1")
    overview = queries.period_overview(SEPTEMBER)
    assert (overview.credit_notes, overview.documents("factures")) == (0, "1 factures")
    make_invoice(resident, SEPTEMBER, amount="-10.00", number="AV-1", kind="avoir")
    overview = queries.period_overview(SEPTEMBER)
    assert (overview.invoices, overview.to_mail, overview.credit_notes) == (2, 2, 1)
    assert overview.documents() == "1 facture et 1 avoir"
