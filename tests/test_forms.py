"""The forms' checks and saves, without a screen: every field's problem at once, in French,
from the models' own rules; valid values saved as typed."""

from __future__ import annotations

import pytest

from tests.raw import write_around
from tuiapp.db.models import Association, Resident, Structure
from tuiapp.domain.errors import ValidationError
from tuiapp.services import forms

STRUCTURE_REFUSED = {  # field -> (what is typed, what the French message says)
    "code": ("", "ce champ est obligatoire."),
    "name": ("Foyer\x1b[2J", "caractère de contrôle"),
    "address": ("1 rue\x00", "caractère de contrôle"),
    "sender_email": ("pas une adresse", "n'est pas une adresse e-mail valide"),
    "sender_name": ("x" * 201, "200 caractères au plus (201 saisis)."),
    "reply_to": ("reponse@", "n'est pas une adresse e-mail valide"),
    "bcc": ("a\u202e@example.org", "caractère interdit"),
    "subject_template": ("Facture &numero\nBcc: x@example.org", "ni retour à la ligne"),
    "body_template": ("Bonjour &persone, &montant_tt", "« &persone »"),
}
STRUCTURE_VALID = {
    "code": " fh-2 ", "name": "Résidence [Les Lilas]", "address": "1 rue des Lilas\n59000 Lille",
    "sender_email": "facturation@example.org", "sender_name": "=1+1", "reply_to": "",
    "bcc": "+tag@example.org", "subject_template": "Facture &numero", "body_template": "  Bonjour &personne,\n",
}


def test_structure_form_gives_every_field_error_at_once(database):
    form = {name: typed for name, (typed, _) in STRUCTURE_REFUSED.items()}
    values, errors = forms.check_structure(form)
    assert list(errors) == list(STRUCTURE_REFUSED)  # in the form's order
    for name, (_, says) in STRUCTURE_REFUSED.items():
        assert says in errors[name], (name, errors[name])
    assert values == {}
    # Both unknown keywords, each with its suggestion.
    assert "« &persone »" in errors["body_template"] and "« &montant_tt »" in errors["body_template"]
    with pytest.raises(ValidationError) as refused:
        forms.save_structure(form)
    assert refused.value.errors == errors
    assert str(refused.value).split("\n")[0] == f"Code : {errors['code']}"
    assert len(str(refused.value).split("\n")) == len(STRUCTURE_REFUSED)
    assert Structure.select().count() == 0


def test_the_form_says_what_the_model_says(database):
    """One set of rules: the form's message for each field is the model's own."""
    form = {name: typed for name, (typed, _) in STRUCTURE_REFUSED.items()}
    with pytest.raises(ValidationError) as refused:
        Structure(**form).clean()
    assert forms.check_structure(form)[1] == refused.value.errors


def test_structure_form_saves_valid_values_as_typed(database):
    values, errors = forms.check_structure(STRUCTURE_VALID)
    assert errors == {}
    assert values["code"] == "FH-2" and values["reply_to"] is None
    saved = forms.save_structure(STRUCTURE_VALID)
    row = Structure.get_by_id(saved.id)
    assert (row.code, row.name, row.address, row.sender_name) == (
        "FH-2", "Résidence [Les Lilas]", "1 rue des Lilas\n59000 Lille", "=1+1")
    assert row.body_template == "  Bonjour &personne,\n"  # the mail text is kept as typed, spaces too
    assert (row.reply_to, row.bcc) == (None, "+tag@example.org")


def test_a_code_is_taken_once_but_a_structure_keeps_its_own(structure):
    _, errors = forms.check_structure({**STRUCTURE_VALID, "code": "fh"})
    assert errors == {"code": "« FH » existe déjà."}
    _, errors = forms.check_structure({**STRUCTURE_VALID, "code": "fh"}, structure)
    assert errors == {}
    # A refused code is not looked up: one message per field, the first problem.
    _, errors = forms.check_structure({**STRUCTURE_VALID, "code": "F\x1bH"})
    assert list(errors) == ["code"] and "caractère" in errors["code"]


def test_a_refused_save_leaves_the_row_as_it_was(structure):
    with pytest.raises(ValidationError):
        forms.save_structure({**STRUCTURE_VALID, "name": "", "sender_email": "x"}, structure)
    assert (structure.name, structure.code) == ("Foyer Les Tilleuls", "FH")  # in memory too
    assert Structure.get_by_id(structure.id).name == "Foyer Les Tilleuls"


def test_resident_form_gives_every_field_error_at_once(structure):
    form = {"last_name": " ", "first_name": "Jo\u2028sé", "structure": "", "email": "jo@",
            "guardian_name": "x" * 201, "guardian_email": "tuteur@@example.org", "active": "1"}
    values, errors = forms.check_resident(form)
    assert set(errors) == {"last_name", "first_name", "structure", "email", "guardian_name", "guardian_email"}
    assert errors["last_name"] == "ce champ est obligatoire."
    assert errors["structure"] == "choisissez une structure."
    assert "200 caractères au plus" in errors["guardian_name"]
    assert forms.check_resident({**form, "structure": "999"})[1]["structure"] == "choisissez une structure."
    with pytest.raises(ValidationError) as refused:
        forms.save_resident(form)
    assert refused.value.errors == errors
    assert Resident.select().count() == 0


def test_resident_form_saves_valid_values_as_typed(structure):
    form = {"last_name": " Anne [/] Marie ", "first_name": "[@click=app.quit]Q[/]", "structure": str(structure.id),
            "email": "=cmd@example.org", "guardian_name": "", "guardian_email": "", "active": "0"}
    assert forms.check_resident(form)[1] == {}
    resident = Resident.get_by_id(forms.save_resident(form).id)
    assert (resident.last_name, resident.first_name, resident.email) == (
        "Anne [/] Marie", "[@click=app.quit]Q[/]", "=cmd@example.org")
    assert resident.guardian_email is None and resident.structure_id == structure.id and not resident.active


SMTP_VALID = {"smtp_host": " smtp.example.org ", "smtp_port": " 2525 ", "smtp_security": "ssl",
              "smtp_username": "factures@example.org", "smtp_rate_per_minute": "0", "smtp_ca_file": ""}


def test_smtp_form_gives_every_field_error_at_once(database, tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("pas un certificat")
    form = {"smtp_host": "", "smtp_port": "²", "smtp_security": "tls", "smtp_username": "a\x00b",
            "smtp_rate_per_minute": "-1", "smtp_ca_file": str(not_pem)}
    values, errors = forms.check_smtp(form)
    assert errors == {
        "smtp_host": "ce champ est obligatoire.",
        "smtp_port": "un nombre entre 1 et 65535 (587 en général).",
        "smtp_security": "STARTTLS, SSL ou aucune.",
        "smtp_username": errors["smtp_username"],
        "smtp_rate_per_minute": "un nombre entre 0 (sans limite) et 10000.",
        "smtp_ca_file": f"« {not_pem} » n'est pas un fichier de certificats (PEM).",
    }
    assert "caractère de contrôle" in errors["smtp_username"]
    assert forms.check_smtp({**SMTP_VALID, "smtp_port": "9" * 5000})[1] == {
        "smtp_port": "un nombre entre 1 et 65535 (587 en général)."}
    assert forms.check_smtp({**SMTP_VALID, "smtp_ca_file": str(tmp_path / "absent.pem")})[1] == {
        "smtp_ca_file": f"fichier introuvable : {tmp_path / 'absent.pem'}"}
    assert Association.get_solo().smtp_host == "smtp.office365.com"  # checking writes nothing


def test_smtp_form_saves_valid_values_and_gives_back_the_previous_ones(database):
    values, errors = forms.check_smtp(SMTP_VALID)
    assert errors == {}
    assert values == {"smtp_host": "smtp.example.org", "smtp_port": 2525, "smtp_security": "ssl",
                      "smtp_username": "factures@example.org", "smtp_rate_per_minute": 0, "smtp_ca_file": None}
    previous = forms.save_smtp(values)
    association = Association.get_solo()
    assert (association.smtp_host, association.smtp_port, association.smtp_security,
            association.smtp_rate_per_minute) == ("smtp.example.org", 2525, "ssl", 0)
    assert previous["smtp_host"] == "smtp.office365.com" and previous["smtp_port"] == 587
    forms.save_smtp(previous)  # the SMTP window's undo, when the keyring refuses the password
    assert Association.get_solo().smtp_host == "smtp.office365.com"


def test_a_bad_row_outside_the_smtp_form_is_not_shown_in_it_but_stops_the_save(database):
    # Written around the checks, as an older import might have: not a field of this form.
    Association.get_solo()
    write_around("UPDATE association SET name = ?", ("Les Amis\x1b[2J",))
    values, errors = forms.check_smtp(SMTP_VALID)
    assert errors == {}
    with pytest.raises(ValidationError) as refused:
        forms.save_smtp(values)
    assert refused.value.errors.keys() == {"name"}
    assert Association.get_solo().smtp_host == "smtp.office365.com"
