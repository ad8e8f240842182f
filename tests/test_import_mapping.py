"""Which column holds which field: synonyms, --map, profiles."""

from __future__ import annotations

import pytest

from tuiapp.services.import_mapping import (
    ImportUsageError,
    explicit_mapping,
    fields_for,
    fold_header,
    guess_mapping,
    load_profile,
    mapping_problems,
    parse_map_option,
    profile_names,
    save_profile,
)


def test_headers_match_ignoring_case_accents_punctuation_and_number_words():
    assert len({fold_header(text) for text in
                ("N° résident", "n° resident", "No. Résident", "num. résident", "Numéro de résident",
                 "  NUMERO   RESIDENT ", "Nº résident", "n°résident")}) == 1
    headers = ["N° Résident", "Code structure", "NOM", "Prénom", "E-mail", "Représentant légal",
               "Courriel du tuteur", "Présent", "Remarque"]
    assert guess_mapping(headers, "residents") == {
        "external_id": 0, "structure": 1, "last_name": 2, "first_name": 3, "email": 4, "guardian_name": 5,
        "guardian_email": 6, "active": 7,
    }


def test_invoice_headers_in_french_and_english():
    french = ["Numéro de facture", "N° résident", "Mois", "Date facture", "Total HT", "Nature", "Désignation",
              "Qté", "P.U.", "Montant ligne"]
    english = ["Invoice number", "Resident ID", "Period", "Invoice date", "Amount", "Type", "Label",
               "Quantity", "Unit price", "Line amount"]
    expected = {"number": 0, "resident": 1, "period": 2, "issue_date": 3, "amount_ht": 4, "kind": 5,
                "line_label": 6, "line_quantity": 7, "line_unit_price": 8, "line_amount": 9}
    assert guess_mapping(french, "invoices") == expected
    assert guess_mapping(english, "invoices") == expected


def test_a_lone_montant_column_is_the_invoice_total():
    assert guess_mapping(["Facture", "N° résident", "Période", "Date", "Montant"], "invoices")["amount_ht"] == 4
    with_lines = guess_mapping(["Facture", "Libellé", "Montant"], "invoices")
    assert with_lines["line_amount"] == 2 and "amount_ht" not in with_lines


def test_no_synonym_names_two_fields_of_one_kind():
    for kind in ("residents", "invoices"):
        seen: dict[str, str] = {}
        for item in fields_for(kind):
            for text in (item.name, item.label, *item.synonyms):
                assert seen.setdefault(fold_header(text), item.name) == item.name, text


def test_missing_and_ambiguous_columns_are_problems_of_the_file():
    headers = ["Nom", "Nom de famille", "Prénom"]
    mapping = guess_mapping(headers, "residents")
    assert "last_name" not in mapping
    problems = {problem.column: problem for problem in mapping_problems(headers, "residents", mapping)}
    assert "peuvent toutes être" in problems["Nom"].reason and "--map" not in problems["Nom"].reason
    assert str(problems["N° résident"]) == (
        "fichier, colonne N° résident : valeur «  » : colonne obligatoire absente "
        "(champ external_id) : désignez-la si elle porte un autre nom.")
    assert all(problem.line == 0 for problem in problems.values())


def test_explicit_mapping_names_some_columns_and_guesses_the_rest():
    headers = ["Réf client", "Nom", "Nom de famille", "Structure"]
    spec = parse_map_option("Réf client=external_id, Nom de famille=-, Nom=nom")
    assert spec == {"Réf client": "external_id", "Nom de famille": "-", "Nom": "nom"}
    mapping = explicit_mapping(headers, "residents", spec)
    assert mapping == {"external_id": 0, "last_name": 1, "structure": 3}
    assert mapping_problems(headers, "residents", mapping) == []


@pytest.mark.parametrize(("spec", "message"), [
    ({"Inconnue": "number"}, "n'est pas dans le fichier"),
    ({"Facture": "couleur"}, "champ inconnu"),
    ({"Facture": "number", "Pièce": "number"}, "deux colonnes"),
])
def test_a_bad_map_is_a_usage_error(spec, message):
    with pytest.raises(ImportUsageError, match=message):
        explicit_mapping(["Facture", "Pièce"], "invoices", spec)


@pytest.mark.parametrize("value", ["Facture", "=number", ",", "a=b,a=c"])
def test_a_malformed_map_option_is_a_usage_error(value):
    with pytest.raises(ImportUsageError):
        parse_map_option(value)


def test_map_from_a_toml_file(tmp_path):
    path = tmp_path / "logiciel.toml"
    path.write_text('[map]\n"Réf" = "external_id"\n"Établissement" = "structure"\n', encoding="utf-8")
    assert parse_map_option(str(path)) == {"Réf": "external_id", "Établissement": "structure"}
    path.write_text('"Réf" = 3\n', encoding="utf-8")
    with pytest.raises(ImportUsageError, match="guillemets"):
        parse_map_option(str(path))
    path.write_text("pas du toml [", encoding="utf-8")
    with pytest.raises(ImportUsageError, match="TOML"):
        parse_map_option(str(path))
    with pytest.raises(ImportUsageError, match="ne peut pas être lu"):
        parse_map_option(str(tmp_path / "absent.toml"))


def test_profiles_are_saved_per_kind_and_replaced(database):
    assert load_profile("Logiciel", "residents") is None
    save_profile("Logiciel", "residents", {"Réf": "external_id"})
    save_profile("Logiciel", "residents", {"Réf": "external_id", "Site": "structure"})
    save_profile("Logiciel", "invoices", {"Pièce": "number"})
    assert load_profile("Logiciel", "residents") == {"Réf": "external_id", "Site": "structure"}
    assert load_profile("Logiciel", "invoices") == {"Pièce": "number"}
    assert profile_names("residents") == ["Logiciel"]
    with pytest.raises(ImportUsageError, match="champ inconnu"):
        save_profile("Autre", "residents", {"Réf": "couleur"})
    with pytest.raises(ImportUsageError, match="caractère de contrôle"):
        save_profile("Mau\x1b[2Jvais", "residents", {"Réf": "external_id"})
    assert profile_names("residents") == ["Logiciel"]


def test_a_label_without_line_amounts_makes_no_line():
    mapping = guess_mapping(["Facture", "N° résident", "Période", "Date", "Montant HT", "Désignation", "Jours"],
                            "invoices")
    assert "line_label" not in mapping and "line_quantity" not in mapping and mapping["amount_ht"] == 4
    explicit = explicit_mapping(["Facture", "Désignation"], "invoices", {"Désignation": "line_label"})
    assert explicit["line_label"] == 1
