"""The association's settings (issue 14, part 1): identifiers checked in French, the Association
screen at 80x24 (from the structures' screen and the palette, administrators only on the server)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select, Static, TextArea

from tests.test_roles import load, notices, rows, write_config
from tests.test_screens import SIZE, fill, press, run_from_palette, settle, type_text
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
