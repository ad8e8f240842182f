from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from peewee import IntegrityError

from tuiapp.db.database import db
from tuiapp.db.models import Association, Invoice, InvoiceLine, Resident, SendRecord, SendStatus, Structure
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.periods import Period
from tuiapp.domain.templates import DEFAULT_BODY


def test_invoice_number_is_unique(make_resident, make_invoice):
    first = make_invoice(make_resident(), number="FH-1")
    other = make_resident("DUPONT", "Marcel")
    with pytest.raises(ValidationError) as error:
        make_invoice(other, number="FH-1")
    assert error.value.field == "number" and "existe déjà" in str(error.value)
    # The database itself refuses it too, should a write bypass the model.
    with pytest.raises(IntegrityError), db.atomic():
        Invoice.insert(resident=other, structure=other.structure, period_year=2024, period_month=9,
                       number="FH-1", issue_date=datetime(2024, 9, 30).date(), amount_ht=Decimal(1)).execute()
    assert Invoice.select().count() == 1
    assert Invoice.get_by_id(first.id).number == "FH-1"


def test_a_credit_note_shares_its_period_with_the_invoice(make_resident, make_invoice):
    """An avoir for a month that has its invoice: the period is no longer unique per resident;
    the number still is, and each kind has its sign."""
    resident = make_resident()
    make_invoice(resident, Period(2024, 9), number="F-1")
    avoir = make_invoice(resident, Period(2024, 9), amount="-120.00", number="AV-1", kind="avoir")
    assert avoir.document_kind.word == "avoir" and Invoice.get_by_id(avoir.id).amount_ht == Decimal("-120.00")
    with pytest.raises(ValidationError, match="négatif"):
        make_invoice(resident, Period(2024, 9), amount="120.00", number="AV-2", kind="avoir")
    with pytest.raises(ValidationError, match="est-ce un avoir"):
        make_invoice(resident, Period(2024, 9), amount="-1.00", number="F-2")
    with pytest.raises(ValidationError, match="facture ou avoir"):
        make_invoice(resident, Period(2024, 9), number="X-1", kind="devis")
    with pytest.raises(IntegrityError), db.atomic():  # the database refuses an unknown kind too
        Invoice.update(kind="devis").where(Invoice.id == avoir.id).execute()


def test_resident_id_of_the_billing_software_is_unique(make_resident):
    make_resident("MAILLY", "Josiane", external_id="R-0012")
    with pytest.raises(ValidationError, match="existe déjà"):
        make_resident("DUPONT", "Marcel", external_id="R-0012")
    assert make_resident("DURAND", "Paul", external_id="").external_id is None  # blank: none
    with pytest.raises(ValidationError, match="N° résident"):
        make_resident("DUPOND", "Léa", external_id="R\x1b[31m")


def test_foreign_keys_are_enforced(structure, make_resident):
    fields = dict(period_year=2024, period_month=9, number="X", issue_date=datetime(2024, 9, 30).date(),
                  amount_ht=Decimal(1))
    with pytest.raises(ValidationError, match="Résident"):
        Invoice.create(resident=9999, structure=structure, **fields)
    with pytest.raises(IntegrityError), db.atomic():
        Invoice.insert(resident=9999, structure=structure, **fields).execute()
    make_resident()
    with pytest.raises(IntegrityError), db.atomic():
        structure.delete_instance()  # it still has residents
    assert Structure.select().count() == 1


def test_invoice_lines_go_with_their_invoice(make_resident, make_invoice):
    invoice = make_invoice(make_resident())
    InvoiceLine.create(invoice=invoice, label="Hébergement", quantity=Decimal(30), unit_price=Decimal("41.15"),
                       amount=Decimal("1234.50"))
    invoice.delete_instance()
    assert InvoiceLine.select().count() == 0


def test_amounts_round_trip_exactly(make_resident, make_invoice):
    invoice = make_invoice(make_resident(), amount="0.10")
    make_invoice(make_resident("DUPONT", "Marcel"), amount="0.20")
    assert Invoice.get_by_id(invoice.id).amount_ht == Decimal("0.10")
    from peewee import fn

    total = Invoice.select(fn.SUM(Invoice.amount_ht)).scalar()
    assert Invoice.amount_ht.python_value(total) == Decimal("0.30")  # no 0.30000000000000004


def test_invoice_belongs_to_its_residents_structure(make_resident, make_invoice):
    resident = make_resident()
    other = Structure.create(code="EHPAD", name="EHPAD")
    with pytest.raises(ValidationError) as error:
        make_invoice(resident, structure=other)
    assert error.value.field == "structure"
    with pytest.raises(ValidationError) as error:
        make_invoice(resident, issue_date="pas une date")
    assert error.value.field == "issue_date"
    assert Invoice.select().count() == 0


def test_invalid_amount_is_refused_and_nothing_written(make_resident, make_invoice):
    resident = make_resident()
    with pytest.raises(ValidationError, match="Montant HT"):
        make_invoice(resident, amount="12.345")
    assert Invoice.select().count() == 0


def test_times_are_aware_and_kept_to_the_instant(make_resident, make_invoice):
    invoice = make_invoice(make_resident())
    paris = timezone(timedelta(hours=2))
    invoice.last_mailed_at = datetime(2024, 10, 3, 11, 30, tzinfo=paris)
    invoice.save()
    stored = Invoice.get_by_id(invoice.id).last_mailed_at
    assert stored == datetime(2024, 10, 3, 9, 30, tzinfo=UTC)
    assert stored.tzinfo is not None
    invoice.last_printed_at = datetime(2024, 10, 3, 11, 30)  # naive
    with pytest.raises(ValueError, match="naive"):
        invoice.save()


def test_resident_addresses_are_validated_and_nothing_written(structure):
    with pytest.raises(ValidationError) as error:
        Resident.create(structure=structure, last_name="MAILLY", first_name="Josiane", guardian_email="tuteur@")
    assert error.value.field == "guardian_email"
    assert "Courriel du tuteur" in str(error.value)
    assert Resident.select().count() == 0


def test_empty_addresses_are_stored_as_null(structure):
    resident = Resident.create(structure=structure, last_name="MAILLY", email="  ", guardian_email="")
    stored = Resident.get_by_id(resident.id)
    assert stored.email is None and stored.guardian_email is None
    assert stored.recipients == []


def test_recipients_are_deduplicated_ignoring_case(make_resident):
    resident = make_resident(email="Josiane.Mailly@example.org", guardian_email="josiane.mailly@EXAMPLE.org")
    assert resident.recipients == ["Josiane.Mailly@example.org"]
    two = make_resident("DUPONT", "Marcel", email="m.dupont@example.org", guardian_email="udaf@example.org")
    assert two.recipients == ["m.dupont@example.org", "udaf@example.org"]


def test_structure_defaults_and_checks(database):
    structure = Structure.create(code="fh", name="Foyer")
    assert structure.code == "FH"
    assert Structure.get_by_id(structure.id).body_template == DEFAULT_BODY
    with pytest.raises(ValidationError, match="&persone"):
        Structure.create(code="EH", name="EHPAD", body_template="Facture de &persone")
    with pytest.raises(ValidationError, match="Objet du mail"):
        Structure.create(code="EH", name="EHPAD", subject_template="Facture\nBcc: x@example.org")
    with pytest.raises(ValidationError, match="Adresse de l'expéditeur"):
        Structure.create(code="EH", name="EHPAD", sender_email="pas une adresse")
    with pytest.raises(ValidationError, match="existe déjà") as error:
        Structure.create(code="fh", name="Doublon")
    assert error.value.field == "code"
    assert Structure.select().count() == 1


def test_association_is_a_single_row_without_password(database):
    association = Association.get_solo()
    assert (association.smtp_host, association.smtp_port, association.smtp_security) == (
        "smtp.office365.com", 587, "starttls",
    )
    assert association.smtp_rate_per_minute == 30
    assert Association.get_solo().id == association.id
    with pytest.raises(IntegrityError), db.atomic():
        Association.insert(id=2, name="Autre", address="", smtp_host="h", smtp_port=25, smtp_security="none",
                           smtp_username="", smtp_auth_method="password", smtp_timeout=30,
                           smtp_rate_per_minute=30).execute()
    columns = {column.name for column in db.get_columns("association")}
    assert not any("pass" in name or "secret" in name for name in columns)


@pytest.mark.parametrize(("field", "value"), [("smtp_port", 0), ("smtp_security", "tls"), ("smtp_rate_per_minute", -1)])
def test_association_settings_are_checked(database, field, value):
    association = Association.get_solo()
    setattr(association, field, value)
    with pytest.raises(ValidationError):
        association.save()


def test_only_one_waiting_send_record_per_invoice(make_resident, make_invoice):
    invoice = make_invoice(make_resident(email="a@example.org"))
    first = SendRecord.create(invoice=invoice, recipients="a@example.org")
    with pytest.raises(IntegrityError), db.atomic():
        SendRecord.create(invoice=invoice, recipients="a@example.org")
    first.status = SendStatus.SENT
    first.save()
    SendRecord.create(invoice=invoice, recipients="a@example.org")  # a new send is allowed once done
    with pytest.raises(IntegrityError), db.atomic():
        SendRecord.create(invoice=invoice, recipients="a@example.org", status="lost")
    assert SendRecord.get_by_id(first.id).created_at.tzinfo is not None


def test_clean_reports_every_problem_of_a_row_at_once(structure):
    with pytest.raises(ValidationError) as error:
        Resident.create(structure=9999, last_name="", email="jo@", guardian_email="tuteur@example.org\x1b")
    assert error.value.errors.keys() == {"last_name", "structure", "email", "guardian_email"}
    assert error.value.field == "last_name"  # the first, for a caller that shows one
    assert str(error.value).split("\n") == [
        "Nom : ce champ est obligatoire.",
        "Structure : choisissez une structure.",
        f"Courriel du résident : {error.value.errors['email']}",
        f"Courriel du tuteur : {error.value.errors['guardian_email']}",
    ]
    assert Resident.select().count() == 0


def test_send_states_have_one_french_name_each_and_the_database_takes_them_all(make_resident, make_invoice):
    from tuiapp.sending.wording import STATUS_LABELS

    assert STATUS_LABELS.get("unknown") == SendStatus.UNKNOWN.label == "état inconnu"  # stored text finds it
    assert SendStatus.UNKNOWN.short_label == "inconnu"
    assert SendStatus.active() == {"queued", "sending"}
    assert SendStatus.finished() == {"sent", "partial", "failed", "unknown"}
    resident = make_resident(email="a@example.org")
    for month, status in enumerate(SendStatus, 1):  # the schema's CHECK (frozen in the migrations) knows each
        record = SendRecord.create(invoice=make_invoice(resident, Period(2024, month)), recipients="a",
                                   status=status)
        assert SendRecord.get_by_id(record.id).status == status


def test_offline_clean_leaves_the_database_rules_to_the_caller(make_resident, make_invoice, monkeypatch):
    """An import checks uniqueness and references against what it read in bulk: clean(offline=True)
    runs every other rule without a query."""
    resident = make_resident(external_id="R1")
    invoice = make_invoice(resident, number="F-1")
    twin = Invoice(number="F-1", resident=resident.id, structure=resident.structure_id, kind="facture",
                   amount_ht="-5", period_year=2024, period_month=9, issue_date=invoice.issue_date)
    with pytest.raises(ValidationError) as offline:
        twin.clean(offline=True)
    assert set(offline.value.errors) == {"amount_ht"}  # the sign, not the number's uniqueness
    twin.amount_ht = "5"
    queries: list[str] = []
    engine, real = db.obj, db.obj.execute_sql  # every statement of Peewee's goes through it
    with monkeypatch.context() as patch:
        patch.setattr(engine, "execute_sql", lambda sql, *args, **kwargs: queries.append(sql) or real(
            sql, *args, **kwargs))
        twin.clean(offline=True)
        Resident(last_name="X", external_id="R1", structure=999).clean(offline=True)
        assert queries == []
        Resident.select().count()
        assert len(queries) == 1  # (the count would see one)
    with pytest.raises(ValidationError, match="existe déjà"):
        twin.clean()
