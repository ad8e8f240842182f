"""The association's settings (issue 14, part 1): identifiers checked in French, the Association
screen at 80x24 (from the structures' screen and the palette, administrators only on the server)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select, Static, TextArea

from tests.test_roles import load, notices, rows, write_config
from tests.test_screens import SIZE, _snap, fill, home_read, press, run_from_palette, settle, type_text
from tuiapp.app import create_app
from tuiapp.db.database import db, release
from tuiapp.db.models import Association, Structure
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.identifiers import check_bic, check_finess, check_iban, check_siret
from tuiapp.domain.roles import Action, Role, refusal

GOOD_SIRET = "732 829 320 00074"
GOOD_IBAN = "fr76 3000 6000 0112 3456 7890 189"


@pytest.mark.parametrize(("check", "typed", "stored"), [
    (check_siret, GOOD_SIRET, "73282932000074"),
    (check_siret, "356 000 000 00048", "35600000000048"),  # La Poste: its own key rule
    (check_iban, GOOD_IBAN, "FR7630006000011234567890189"),
    (check_iban, "DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    (check_bic, "agrifrpp", "AGRIFRPP"),
    (check_bic, "AGRIFRPP882", "AGRIFRPP882"),
    (check_finess, "750 712 184", "750712184"),
    (check_finess, "330781196", "330781196"),
    (check_finess, "2A0000123", "2A0000123"),  # Corsica: the format only
    (check_finess, "2b0001234", "2B0001234"),
    (check_finess, "", ""),
])
def test_good_identifiers_are_stored_compact(check, typed, stored):
    assert check(typed) == stored


@pytest.mark.parametrize(("check", "typed", "said"), [
    (check_siret, "732 829 320 00075", "la clé de « 73282932000075 » est fausse"),
    (check_siret, "7328293200007", "14 chiffres attendus"),
    (check_siret, "73282932O00074", "14 chiffres attendus"),
    (check_iban, "FR76 3000 6000 0112 3456 7890 188", "la clé de l'IBAN est fausse"),
    (check_iban, "FR76 3000 6000 0112", "n'est pas un IBAN valide"),
    (check_bic, "AGRI", "8 ou 11 caractères"),
    (check_bic, "1GRIFRPP", "8 ou 11 caractères"),
    (check_finess, "750712185", "la clé (9e chiffre) de « 750712185 » est fausse"),
    (check_finess, "75071218", "9 caractères attendus (8 saisis)"),
    (check_finess, "200000123", "il commence par le département"),  # 20: Corsica is 2A or 2B
    (check_finess, "2C0000123", "il commence par le département"),
    (check_finess, "990000123", "il commence par le département"),
])
def test_bad_identifiers_are_refused_in_french(check, typed, said):
    with pytest.raises(ValidationError) as refused:
        check(typed)
    assert said in refused.value.message


def test_the_association_keeps_its_identifiers_normalised(database):
    association = Association.get_solo()
    association.siret, association.iban, association.bic = GOOD_SIRET, GOOD_IBAN, "agrifrpp"
    association.email, association.payment_days = "Compta@Asso.EXAMPLE", 15
    association.save()
    stored = Association.get_solo()
    assert (stored.siret, stored.iban, stored.bic, stored.email, stored.payment_days) == (
        "73282932000074", "FR7630006000011234567890189", "AGRIFRPP", "Compta@asso.example", 15)
    association.siret, association.payment_days, association.phone = "123", 200, "03 20 <b>"
    with pytest.raises(ValidationError) as refused:
        association.save()
    assert set(refused.value.errors) == {"siret", "payment_days", "phone"}
    assert Association.get_solo().siret == "73282932000074"  # nothing written


def test_a_structure_checks_its_finess_and_keeps_its_statement(database):
    structure = Structure(code="FH", name="Foyer", finess="590000123")
    with pytest.raises(ValidationError) as refused:
        structure.save()
    assert "la clé (9e chiffre)" in refused.value.errors["finess"]
    structure.finess, structure.vat_statement = "590000121", "Exonération, art. 261 du CGI"
    structure.billing_contact = "Mme Dupont\n03 20 00 00 00"
    structure.save()
    stored = Structure.get_by_id(structure.id)
    assert (stored.finess, stored.vat_statement, stored.billing_contact) == (
        "590000121", "Exonération, art. 261 du CGI", "Mme Dupont\n03 20 00 00 00")


@pytest.fixture
def app(demo_db_file):
    application = create_app(demo_db_file)
    yield application
    db.close()


def errors_text(app) -> str:
    return str(app.screen.query_one("#errors", Static).render()).replace("\n", " ")


async def test_the_association_screen_from_the_structures_edits_and_refuses_a_bad_siret(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "s", "a")  # home -> structures -> association
        screen = app.screen
        assert screen.__class__.__name__ == "AssociationScreen"
        name = screen.query_one("#name", Input)
        assert screen.focused is name and name.cursor_position == len(name.value) > 0
        assert name.selection.is_empty  # the first key adds to the name, never replaces it
        assert name.region.bottom <= SIZE[1] - 1  # the first field on screen at 80x24
        assert screen.query_one("#iban", Input).value == "FR76 1027 8026 7900 0204 5730 135"  # grouped by 4
        await fill(pilot, "#siret", "732 829 320 00075")
        assert "SIRET : la clé de « 73282932000075 » est fausse" in errors_text(app)
        assert screen.query_one("#siret", Input).has_class("invalid")
        await press(pilot, "ctrl+s")
        assert app.screen is screen  # refused, the form kept open
        assert Association.get_solo().siret != "73282932000075"
        await press(pilot, "backspace")
        await type_text(pilot, "4")
        assert errors_text(app) == ""
        await fill(pilot, "#name", "Les Papillons Blancs")
        screen.query_one("#payment_days", Select).value = "30"
        await settle(pilot)
        await press(pilot, "ctrl+s")
        assert app.screen.__class__.__name__ == "StructuresScreen"
    stored = Association.get_solo()
    assert (stored.name, stored.siret, stored.payment_days) == ("Les Papillons Blancs", "73282932000074", 30)


async def test_the_palette_opens_the_association_screen(app):
    async with app.run_test(size=SIZE) as pilot:
        await run_from_palette(pilot, "Association")
        assert app.screen.__class__.__name__ == "AssociationScreen"
        assert app.screen.focused is app.screen.query_one("#name", Input)


async def test_a_fresh_base_says_where_to_name_the_association(tmp_path):
    app = create_app(tmp_path / "new.db")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await home_read(pilot)
            overview = str(app.screen.query_one("#association", Static).render())
            assert "Association sans nom" not in overview
            assert "Structures (s), puis Association (a)" in overview.replace("\n", " ")
            await press(pilot, "s", "a")
            await type_text(pilot, "Les Lilas")
            address = app.screen.query_one("#address", TextArea)
            address.focus()
            await type_text(pilot, "3 rue des Lilas")
            await press(pilot, "ctrl+s", "escape")
            assert app.screen.__class__.__name__ == "HomeScreen"
            overview = str(app.screen.query_one("#association", Static).render())
            assert overview.startswith("Les Lilas\n3 rue des Lilas")
    finally:
        release()


async def test_only_administrators_edit_the_association_on_the_server(demo_db_file, tmp_path):
    config = load(write_config(tmp_path, demo_db_file))
    reason = refusal(Role.OPERATOR, Action.EDIT_ASSOCIATION)
    before = rows(demo_db_file)
    app = create_app(demo_db_file, role=Role.OPERATOR, service_mode=True, config=config)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await run_from_palette(pilot, "Association")
            screen = app.screen
            assert screen.__class__.__name__ == "AssociationScreen"
            assert all(field.disabled for field in screen.query(Input))
            assert reason in str(screen.query_one("#read-only").render()).replace("\n", " ")
            assert screen.active_bindings["ctrl+s"].enabled is False
            await press(pilot, "ctrl+s")
            assert reason in notices(app)
            screen.action_save()  # reached another way than the key: refused all the same
            await settle(pilot)
    finally:
        release()
    assert rows(demo_db_file) == before
    app = create_app(demo_db_file, role=Role.ADMIN, service_mode=True, config=config)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await press(pilot, "s", "a")
            await fill(pilot, "#phone", "03 20 99 99 99")
            await press(pilot, "ctrl+s")
            assert app.screen.__class__.__name__ == "StructuresScreen"
    finally:
        release()
    open_and_check = create_app(demo_db_file)
    try:
        assert Association.get_solo().phone == "03 20 99 99 99"
    finally:
        del open_and_check
        release()


def test_the_forms_read_and_check_the_new_fields(structure):
    from tuiapp.services import forms

    form = {"last_name": "MAILLY", "first_name": "Josiane", "structure": str(structure.id),
            "address": "12 rue des Tilleuls\r\n59280 Armentières", "guardian_name": "MAILLY Michel",
            "guardian_relation": "Famille", "guardian_address": "3 rue Pasteur\n59000 Lille", "direct_debit": "1",
            "active": "1"}
    resident = forms.save_resident(form)
    stored = type(resident).get_by_id(resident.id)
    assert (stored.address, stored.guardian_relation, stored.guardian_address, stored.direct_debit) == (
        "12 rue des Tilleuls\n59280 Armentières", "famille", "3 rue Pasteur\n59000 Lille", True)
    _, errors = forms.check_resident({**form, "guardian_relation": "voisine", "guardian_address": "3 rue\x1b[2J"})
    assert errors["guardian_relation"] == "tuteur, curateur, mandataire judiciaire, famille ou vide."
    assert "caractère de contrôle" in errors["guardian_address"]
    _, errors = forms.check_association({"siret": "123", "iban": "FR00", "bic": "?", "payment_days": "quinze",
                                         "email": "compta@", "website": "pas un site"})
    assert set(errors) == {"siret", "iban", "bic", "payment_days", "email", "website"}
    _, errors = forms.check_structure({"code": "FH", "name": "Foyer", "finess": "59 000 012 2"}, structure)
    assert set(errors) == {"finess"}


def test_a_structure_saved_without_sender_is_warned_about(database):
    from tuiapp.services import forms

    saved = forms.save_structure({"code": "fam", "name": "FAM La Roseraie", "sender_email": ""})
    assert forms.sender_warning(saved) == (
        "La structure FAM n'a pas d'adresse d'expéditeur (onglet Mail) : ses factures ne pourront pas être envoyées "
        "par mail tant qu'elle n'est pas renseignée.")
    saved = forms.save_structure({"sender_email": "roseraie@example.org"}, saved)
    assert forms.sender_warning(saved) is None


def test_a_version_6_file_takes_version_7_with_its_data(tmp_path):
    """A file left at version 6 (the frozen migrations 1 to 6) opens at version 7, its rows kept,
    the new columns at their defaults."""
    from peewee import SqliteDatabase

    from tuiapp.db import migrations
    from tuiapp.db.database import open_database
    from tuiapp.db.models import Resident

    path = tmp_path / "v6.db"
    raw = SqliteDatabase(str(path))
    for step in range(1, 7):
        migrations.MIGRATIONS[step](raw)
    raw.execute_sql("PRAGMA user_version = 6")
    raw.execute_sql("INSERT INTO association (id, name, address, smtp_host, smtp_port, smtp_security, smtp_username, "
                    "smtp_auth_method, smtp_timeout, smtp_rate_per_minute, smtp_allow_insecure_auth) VALUES "
                    "(1, 'Les Papillons', '8 place', 'smtp.office365.com', 587, 'starttls', '', 'password', 30, 30, 0)")
    raw.execute_sql("INSERT INTO structure (id, code, name, address, sender_email, sender_name, subject_template, "
                    "body_template) VALUES (1, 'FH', 'Foyer', '', 'f@example.org', '', 's', 'b')")
    raw.execute_sql("INSERT INTO resident (id, structure_id, last_name, first_name, guardian_name, active) "
                    "VALUES (1, 1, 'MAILLY', 'Josiane', 'MAILLY Michel (nièce)', 1)")
    raw.close()
    open_database(path)
    try:
        assert migrations.schema_version(db) == 7
        association = Association.get_solo()
        assert (association.name, association.address, association.siret, association.payment_days) == (
            "Les Papillons", "8 place", "", 0)
        structure = Structure.get_by_id(1)
        assert (structure.sender_email, structure.finess, structure.vat_statement) == ("f@example.org", "", "")
        resident = Resident.get_by_id(1)
        assert (resident.guardian_name, resident.guardian_relation, resident.address, resident.direct_debit) == (
            "MAILLY Michel (nièce)", "", "", False)
        resident.direct_debit, resident.guardian_relation = True, "famille"
        resident.save()  # the new columns take what the models write
        assert Resident.get_by_id(1).direct_debit is True
    finally:
        release()


def test_the_invoice_snapshot_carries_the_new_fields(demo_db):
    from tuiapp.db.models import Invoice, Resident
    from tuiapp.db.snapshots import document_for

    invoice = Invoice.select().join(Resident).where(Resident.last_name == "MAILLY").get()
    doc = document_for(invoice, Association.get_solo())
    assert (doc.association_siret, doc.association_iban, doc.association_bic) == (
        "78945612600018", "FR7610278026790002045730135", "CMCIFR2A")
    assert (doc.association_phone, doc.association_email, doc.association_website) == (
        "03 20 00 12 34", "contact@papillons-flandre.example.org", "www.papillons-flandre.example.org")
    assert doc.cheque_payee == "Association Les Papillons Blancs de Flandre" and doc.payment_days == 15
    assert (doc.structure_finess, doc.vat_statement) == ("590000121", "TVA non applicable, art. 261-7-1°-b du CGI")
    assert doc.billing_contact.startswith("Service facturation - Mme Durand\n")
    assert doc.resident_address == "Foyer d'hébergement Les Tilleuls\n12 rue des Tilleuls\n59280 Armentières"
    assert "(" not in doc.guardian_name and doc.guardian_relation in ("famille", "tuteur")
    assert doc.guardian_address and doc.addressee_is_guardian
    assert isinstance(doc.direct_debit, bool)


def test_the_demo_has_no_relation_inside_a_name_and_valid_identifiers(demo_db):
    from tuiapp.db.models import Resident

    assert not Resident.select().where(Resident.guardian_name.contains("(")).exists()
    relations = {resident.guardian_relation for resident in Resident.select() if resident.guardian_name}
    assert relations == {"famille", "tuteur", "curateur", "mandataire judiciaire"}
    assert Resident.select().where(Resident.direct_debit).exists()
    for row in (Association.get_solo(), *Structure.select(), *Resident.select()):
        row.clean()  # every demo value passes the checks


async def test_the_structure_form_takes_finess_vat_and_contact_and_warns_without_sender(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "s", "n")  # a new structure: the Général tab, on the code
        await type_text(pilot, "fam2")
        await press(pilot, "tab")
        await type_text(pilot, "FAM Les Lilas")
        screen = app.screen
        await fill(pilot, "#finess", "590000122")
        assert "N° FINESS : la clé (9e chiffre) de « 590000122 » est fausse" in errors_text(app)
        await press(pilot, "backspace")
        await type_text(pilot, "1")
        assert "FINESS" not in errors_text(app)
        assert not screen.query_one("#field-vat_other").display  # the free text only for another statement
        screen.query_one("#vat_choice", Select).value = "other"
        await settle(pilot)
        other = screen.query_one("#vat_other", Input)
        assert other.display and other.region.bottom <= SIZE[1]
        await fill(pilot, "#vat_other", "TVA non applicable, art. 293 B du CGI")
        contact = screen.query_one("#billing_contact", TextArea)
        contact.focus()
        await type_text(pilot, "Mme Durand")
        await press(pilot, "ctrl+s")  # no sender on the Mail tab: saved, and said
        assert app.screen.__class__.__name__ == "StructuresScreen"
        warning = next(n for n in app._notifications if n.title == "Sans expéditeur")
        assert warning.severity == "warning" and "La structure FAM2 n'a pas d'adresse d'expéditeur" in warning.message
    saved = Structure.get(Structure.code == "FAM2")
    assert (saved.finess, saved.vat_statement, saved.billing_contact, saved.sender_email) == (
        "590000121", "TVA non applicable, art. 293 B du CGI", "Mme Durand", None)


async def test_the_resident_form_takes_addresses_relation_and_direct_debit(app):
    from textual.widgets import Switch

    from tuiapp.db.models import Resident

    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "r", "enter")  # the first resident's form
        screen = app.screen
        resident = screen.resident
        address = screen.query_one("#address", TextArea)
        address.focus()
        address.clear()
        await type_text(pilot, "4 rue Pasteur")
        screen.query_one("#guardian_relation", Select).value = "curateur"
        screen.query_one("#direct_debit", Switch).value = True
        guardian_address = screen.query_one("#guardian_address", TextArea)
        guardian_address.focus()
        await settle(pilot)
        assert guardian_address.region.bottom <= SIZE[1] - 1  # scrolled to: visible at 80x24
        guardian_address.clear()
        await type_text(pilot, "UDAF\x1b")  # Échap leaves the field, the control character never gets in
        await press(pilot, "ctrl+s")
    stored = Resident.get_by_id(resident.id)
    assert (stored.address, stored.guardian_relation, stored.direct_debit) == ("4 rue Pasteur", "curateur", True)
    assert "\x1b" not in stored.guardian_address


@pytest.mark.sqlite_only  # the title bar shows the base's name (a PostgreSQL copy's differs each run)
def test_snapshot_association(snap_compare, snap_app):
    def check(app) -> None:
        screen = app.screen
        # What the picture shows: every field at 80x24, the IBAN by fours, the terms in words.
        assert screen.query_one("#payment_days", Select).region.bottom <= SIZE[1] - 1
        assert screen.query_one("#iban", Input).value == "FR76 1027 8026 7900 0204 5730 135"
        assert screen.query_one("#siret", Input).value == "789 456 126 00018"

    assert _snap(snap_compare, snap_app, ("s", "a"), check=check)


async def test_a_bad_mail_setting_that_stops_the_save_is_named(app):
    """A setting of the SMTP window the rules refuse (a row written around them): the Association
    screen has no field to mark, so it names it rather than leave a form without a red field."""
    from tests.raw import write_around

    write_around("UPDATE association SET smtp_host = ?", ("smtp\x1b[2J.example.org",))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await press(pilot, "s", "a")
        await fill(pilot, "#phone", "03 20 99 99 99")
        await press(pilot, "ctrl+s")
        assert app.screen.__class__.__name__ == "AssociationScreen"  # kept open
        said = [notice.message for notice in app._notifications if notice.severity == "error"]
        assert any("réglages du serveur SMTP à corriger d'abord" in text and "Serveur SMTP : " in text
                   for text in said), said
    assert Association.get_solo().phone == "03 20 00 12 34"
