from collections import Counter
from decimal import Decimal

import pytest

from tuiapp.db import queries
from tuiapp.db.models import Association, Invoice, InvoiceLine, Resident, SendRecord, Structure
from tuiapp.demo.data import DemoRefused, build_demo, is_demo_database
from tuiapp.domain.periods import Period
from tuiapp.domain.templates import render, values_for_invoice


def test_demo_invariants(demo_db):
    assert is_demo_database()
    structures = list(Structure.select())
    assert len(structures) == 3
    for structure in structures:
        assert structure.sender_email and structure.sender_name
        assert "Vous trouverez ci-joint la facture de &personne pour la période de &periode" in structure.body_template

    residents = list(Resident.select())
    assert len(residents) >= 120
    kinds = Counter(len(resident.recipients) for resident in residents)
    assert kinds[0] >= 10 and kinds[1] >= 10 and kinds[2] >= 10, kinds
    shared = Counter(r.guardian_email for r in residents if r.guardian_email)
    assert sum(1 for count in shared.values() if count >= 2) >= 2  # mandataires with several residents
    assert any(r.email and r.guardian_email and r.email.casefold() == r.guardian_email.casefold() for r in residents)
    assert any(not r.active for r in residents)

    for period in (Period(2024, 8), Period(2024, 9), Period(2024, 10)):
        overview = queries.period_overview(period)
        assert overview.to_mail >= 60 and overview.without_address >= 10, overview
        assert overview.to_mail + overview.without_address == overview.invoices

    association = Association.get_solo()
    assert association.smtp_host == "127.0.0.1"  # the local catch-all server, never a real one


def test_every_invoice_adds_up(demo_db):
    for invoice in Invoice.select():
        lines = list(invoice.lines.order_by(InvoiceLine.position))
        assert lines, invoice.number
        assert sum(line.amount for line in lines) == invoice.amount_ht
        for line in lines:
            assert line.amount == (line.quantity * line.unit_price).quantize(Decimal("0.01"))


def test_mailly_josiane_september_2024(demo_db):
    invoice = (
        queries.invoices_to_mail(Period(2024, 9))
        .where((Resident.last_name == "MAILLY") & (Resident.first_name == "Josiane"))
        .get()
    )
    text = "Vous trouverez ci-joint la facture de &personne pour la période de &periode"
    assert render(text, values_for_invoice(invoice)) == (
        "Vous trouverez ci-joint la facture de MAILLY Josiane pour la période de septembre 2024"
    )


def test_past_months_have_a_history(demo_db):
    august = queries.invoices_to_mail(Period(2024, 8))
    assert all(invoice.last_mailed_at is not None for invoice in august)
    assert SendRecord.select().count() == august.count() + queries.invoices_to_mail(Period(2024, 7)).count()
    assert all(i.last_printed_at is not None for i in queries.invoices_without_address(Period(2024, 8)))
    assert queries.invoices_of_period(Period(2024, 10)).where(Invoice.last_mailed_at.is_null(False)).count() == 0


def test_building_twice_changes_nothing(demo_db):
    before = (Resident.select().count(), Invoice.select().count(), SendRecord.select().count())
    summary = build_demo()
    assert not summary.created
    assert (Resident.select().count(), Invoice.select().count(), SendRecord.select().count()) == before
    rebuilt = build_demo(reset=True)
    assert rebuilt.created
    assert (Resident.select().count(), Invoice.select().count(), SendRecord.select().count()) == before


def test_real_data_is_never_overwritten(structure):
    with pytest.raises(DemoRefused, match="données réelles"):
        build_demo(reset=True)
    assert [s.code for s in Structure.select()] == ["FH"]
    assert Resident.select().count() == 0
    assert not is_demo_database()
