"""Importing the billing software's residents: matched on its resident ID, all or nothing."""

from __future__ import annotations

import pytest

from tests.import_samples import RESIDENT_HEADERS, dump, resident_rows, write_csv, write_xlsx
from tuiapp.db.models import Resident, Structure
from tuiapp.domain.identifiers import read_direct_debit, read_relation
from tuiapp.domain.safe_text import find_control, printable
from tuiapp.services.import_files import Row, Table, read_table
from tuiapp.services.import_mapping import guess_mapping
from tuiapp.services.import_residents import import_residents


def run(path, *, dry_run=False, **read):
    table = read_table(path, **read)
    return import_residents(table, guess_mapping(table.headers, "residents"), dry_run=dry_run)


@pytest.fixture
def structures(database):
    return (Structure.create(code="FH", name="Foyer Les Tilleuls"),
            Structure.create(code="MAS", name="Maison d'accueil spécialisée"))


@pytest.mark.parametrize(("delimiter", "encoding"), [(";", "utf-8"), (",", "utf-8-sig"), ("\t", "cp1252")])
def test_csv_in_each_form_creates_the_residents(structures, tmp_path, delimiter, encoding):
    rows = [["R1", "FH", "Éléonore", "Zoé", "zoe@Example.ORG", "tuteur@example.org"],
            ["R2", "maison d'accueil specialisee", "MAILLY", "Josiane", "", ""]]
    result = run(write_csv(tmp_path / "r.csv", RESIDENT_HEADERS, rows, delimiter=delimiter, encoding=encoding))
    assert (result.created, result.updated, result.problems, result.written) == (2, 0, [], True)
    first, second = Resident.select().order_by(Resident.external_id)
    assert (first.external_id, first.structure_id, first.last_name, first.first_name) == (
        "R1", structures[0].id, "Éléonore", "Zoé")
    assert (first.email, first.guardian_email, first.active) == ("zoe@example.org", "tuteur@example.org", True)
    assert (second.structure_id, second.email, second.guardian_email) == (structures[1].id, None, None)


def test_reimporting_the_same_content_changes_nothing_csv_then_xlsx(structures, tmp_path):
    rows = resident_rows(30)
    assert run(write_csv(tmp_path / "r.csv", RESIDENT_HEADERS, rows)).created == 30
    before = dump()
    again = run(tmp_path / "r.csv")
    assert (again.created, again.updated, again.unchanged, again.written) == (0, 0, 30, False)
    as_xlsx = run(write_xlsx(tmp_path / "r.xlsx", RESIDENT_HEADERS, rows))
    assert (as_xlsx.unchanged, as_xlsx.problems) == (30, [])
    assert dump() == before


def test_three_bad_rows_among_200_write_nothing_and_are_all_reported(structures, tmp_path):
    rows = resident_rows(200)
    rows[9][4] = "pas-une-adresse"  # line 11 (the header is line 1)
    rows[99][1] = "XYZ"  # line 101: no such structure
    rows[179][2] = ""  # line 181: no name
    before = dump()
    result = run(write_csv(tmp_path / "r.csv", RESIDENT_HEADERS, rows))
    assert [(problem.line, problem.column) for problem in result.problems] == [
        (11, "Courriel"), (101, "Structure"), (181, "Nom")]
    assert "n'est pas une adresse e-mail valide" in result.problems[0].reason
    assert "structure inconnue (codes : FH, MAS)" in result.problems[1].reason
    assert str(result.problems[2]) == "ligne 181, colonne Nom : valeur «  » : ce champ est obligatoire."
    assert (result.written, dump()) == (False, before)
    assert Resident.select().count() == 0


def test_changes_update_the_resident_and_absent_columns_keep_their_values(structures, tmp_path):
    resident = Resident.create(structure=structures[0], last_name="MAILLY", first_name="Josiane",
                               guardian_name="Paul MAILLY", email="old@example.org", external_id="R1")
    other = Resident.create(structure=structures[0], last_name="AUTRE", external_id="R2")
    headers = ("Matricule", "Code structure", "Nom", "Courriel", "Actif")
    result = run(write_csv(tmp_path / "r.csv", headers, [["R1", "MAS", "MAILLY", "new@example.org", "non"],
                                                         ["R2", "FH", "AUTRE", "", ""]]))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    resident = Resident.get_by_id(resident.id)
    assert (resident.structure_id, resident.email, resident.active) == (structures[1].id, "new@example.org", False)
    assert (resident.first_name, resident.guardian_name) == ("Josiane", "Paul MAILLY")  # no such columns
    assert Resident.get_by_id(other.id).active  # an empty "Actif" cell changes nothing


def test_dry_run_reports_counts_and_writes_nothing(structures, tmp_path):
    before = dump()
    result = run(write_csv(tmp_path / "r.csv", RESIDENT_HEADERS, resident_rows(5)), dry_run=True)
    assert (result.created, result.dry_run, result.written) == (5, True, False)
    assert dump() == before


def test_duplicate_ids_missing_ids_and_bad_yes_no_are_problems(structures, tmp_path):
    headers = (*RESIDENT_HEADERS, "Présent")
    rows = [["R1", "FH", "A", "", "", "", "oui"], ["R1", "FH", "B", "", "", "", "1"],
            ["", "FH", "C", "", "", "", "vrai"], ["R4", "FH", "D", "", "", "", "peut-être"]]
    result = run(write_csv(tmp_path / "r.csv", headers, rows))
    assert [(problem.line, problem.column) for problem in result.problems] == [
        (3, "N° résident"), (4, "N° résident"), (5, "Présent")]
    assert "déjà ligne 2" in result.problems[0].reason
    assert Resident.select().count() == 0


def test_a_structure_s_code_that_is_another_s_name_is_a_problem(structures, tmp_path):
    Structure.create(code="MAS2", name="fh")  # « FH »: the first's code, this one's name
    rows = [["R1", "FH", "MAILLY", "", "", ""], ["R2", "MAS", "MAILLY", "", "", ""]]
    result = run(write_csv(tmp_path / "r.csv", RESIDENT_HEADERS, rows))
    assert [(problem.line, problem.value) for problem in result.problems] == [(2, "FH")]
    assert "le code d'une structure et le nom d'une autre" in result.problems[0].reason
    assert Resident.select().count() == 0


def test_a_missing_required_column_refuses_the_file(structures, tmp_path):
    result = run(write_csv(tmp_path / "r.csv", ("Nom", "Prénom"), [["A", "B"]]))
    assert [str(problem) for problem in result.problems] == [
        'fichier, colonne N° résident : valeur «  » : colonne obligatoire absente '
        '(champ external_id) : désignez-la si elle porte un autre nom.']


def test_a_file_without_structure_or_name_updates_but_cannot_create(structures, tmp_path):
    Resident.create(structure=structures[0], last_name="MAILLY", external_id="R1")
    path = write_csv(tmp_path / "r.csv", ("N° résident", "Courriel"), [["R1", "josiane@example.org"]])
    assert run(path).updated == 1
    assert Resident.get(Resident.external_id == "R1").email == "josiane@example.org"
    rows = [["R1", "autre@example.org"], *([f"N{index}", ""] for index in range(7))]
    result = run(write_csv(path, ("N° résident", "Courriel"), rows))
    assert [str(problem) for problem in result.problems] == [
        'fichier, colonne Structure : valeur «  » : colonne absente, obligatoire pour un nouveau résident '
        '(7 dans ce fichier : lignes 3, 4, 5, 6, 7, …) : désignez-la si elle porte un autre nom (champ structure).',
        'fichier, colonne Nom : valeur «  » : colonne absente, obligatoire pour un nouveau résident '
        '(7 dans ce fichier : lignes 3, 4, 5, 6, 7, …) : désignez-la si elle porte un autre nom (champ last_name).']
    assert Resident.get(Resident.external_id == "R1").email == "josiane@example.org"
    assert Resident.select().count() == 1


@pytest.mark.parametrize("hostile", ["\x1b]0;pwned\x07NOM", "NO\x00M", "NOM\u202eTXT", "\x1b[2JNOM"])
def test_hostile_cells_are_refused_and_reported_safely(structures, tmp_path, hostile):
    rows = [["R1", "FH", hostile, "", "", ""], ["R2", "FH", "NOM", "", f"{hostile}@example.org", ""]]
    before = dump()  # (the reader refuses a CSV with NUL outright: the importer is given the cells)
    table = Table(tmp_path / "r.xlsx", "xlsx", RESIDENT_HEADERS, [Row(line, tuple(row)) for line, row in
                                                                  enumerate(rows, 2)])
    result = import_residents(table, guess_mapping(RESIDENT_HEADERS, "residents"))
    assert [(problem.line, problem.column) for problem in result.problems] == [(2, "Nom"), (3, "Courriel")]
    for problem in result.problems:
        assert "caractère" in problem.reason
        assert find_control(str(problem)) is None
    assert dump() == before


def test_a_resident_typed_by_hand_receives_the_id_rather_than_a_double(structures, tmp_path):
    """The first import after residents were typed in the app: the same name in the same structure
    is that resident, who gets the ID (what the file lacks stays as typed); two of that name: which one?"""
    typed = Resident.create(structure=structures[0], last_name="DUPONT", first_name="Jean",
                            guardian_name="UDAF", guardian_email="udaf@example.org")
    for _ in range(2):
        Resident.create(structure=structures[0], last_name="MARTIN", first_name="Paul")
    path = write_csv(tmp_path / "r.csv", ("N° résident", "Structure", "Nom", "Prénom", "Courriel"),
                     [["R1", structures[0].code, "Dupont", "Jean", "jean@example.org"]])
    result = run(path)
    assert (result.created, result.updated) == (0, 1) and not result.problems
    assert result.notes == ["DUPONT Jean, saisi(e) sans n° résident, reçoit le n° R1 (ligne 2)."]
    adopted = Resident.get_by_id(typed.id)
    assert (adopted.external_id, adopted.email, adopted.guardian_email) == ("R1", "jean@example.org",
                                                                            "udaf@example.org")
    assert Resident.select().where(Resident.last_name.in_(["DUPONT", "Dupont"])).count() == 1
    before = Resident.select().count()
    refused = run(write_csv(tmp_path / "r.csv", ("N° résident", "Structure", "Nom", "Prénom"),
                            [["R2", structures[0].code, "MARTIN", "Paul"]]))
    assert [problem.line for problem in refused.problems] == [2]
    assert "2 résidents « MARTIN Paul » de cette structure n'ont pas de n° résident" in refused.problems[0].reason
    assert Resident.select().count() == before


def test_addresses_relation_and_direct_debit_are_imported_french_and_english(structures, tmp_path):
    """Issue 14: the postal addresses (a quoted cell keeps its lines), the guardian's relation (its usual
    other words read as one), the payment by direct debit (yes/no, or the way of paying)."""
    headers = ("N° résident", "Structure", "Nom", "Adresse postale", "Tuteur", "Lien du tuteur", "Adresse tuteur",
               "Mode de paiement")
    rows = [["R1", "FH", "MAILLY", "12 rue des Tilleuls\n59280 Armentières", "MAILLY Michel", "Famille",
             "3 rue Pasteur\n59000 Lille", "Prélèvement"],
            ["R2", "FH", "DUPONT", "", "UDAF du Nord", "MJPM", "10 rue Jean Moulin, 59000 Lille", "Virement"],
            ["R3", "FH", "ZOLA", "", "", "", "", ""]]
    result = run(write_csv(tmp_path / "r.csv", headers, rows))
    assert (result.created, result.problems) == (3, [])
    first, second, third = Resident.select().order_by(Resident.external_id)
    assert (first.address, first.guardian_relation, first.guardian_address, first.direct_debit) == (
        "12 rue des Tilleuls\n59280 Armentières", "famille", "3 rue Pasteur\n59000 Lille", True)
    assert (second.guardian_relation, second.guardian_address, second.direct_debit) == (
        "mandataire judiciaire", "10 rue Jean Moulin, 59000 Lille", False)
    assert (third.guardian_relation, third.direct_debit) == ("", False)
    english = ("Resident ID", "Address", "Guardian relation", "Guardian address", "Direct debit")
    again = run(write_csv(tmp_path / "en.csv", english, [["R3", "1 Main St", "curatelle", "2 Side St", "yes"]]))
    assert (again.updated, again.problems) == (1, [])
    third = Resident.get_by_id(third.id)
    assert (third.address, third.guardian_relation, third.guardian_address, third.direct_debit) == (
        "1 Main St", "curateur", "2 Side St", True)


def test_the_usual_relation_and_payment_words_are_read_by_word_start(structures, tmp_path):
    """Review of issue 14: values the billing software writes, accents and case ignored."""
    headers = ("N° résident", "Structure", "Nom", "Lien avec le résident", "Mode de règlement")
    rows = [["R1", "FH", "MAILLY", "Curatelle renforcée", "Virement bancaire"],
            ["R2", "FH", "DUPONT", "Nièce", "Prélèvement SEPA"],
            ["R3", "FH", "ZOLA", "SŒUR", "Chèque"],
            ["R4", "FH", "HUGO", "tutelle aux prestations sociales", "espèces"],
            ["R5", "FH", "SAND", "Mandataire judiciaire à la protection des majeurs", "PRELEVEMENT"],
            ["R6", "FH", "VERNE", "Fils", "Virement SEPA"]]
    result = run(write_csv(tmp_path / "r.csv", headers, rows))
    assert (result.created, result.problems, result.notes, result.written) == (6, [], [], True)
    got = [(resident.guardian_relation, resident.direct_debit)
           for resident in Resident.select().order_by(Resident.external_id)]
    assert got == [("curateur", False), ("famille", True), ("famille", False), ("tuteur", False),
                   ("mandataire judiciaire", True), ("famille", False)]


def test_a_value_not_understood_is_left_as_it_is_with_a_warning_and_the_rest_imports(structures, tmp_path):
    headers = ("N° résident", "Structure", "Nom", "Lien du tuteur", "Prélèvement", "Adresse tuteur")
    first = run(write_csv(tmp_path / "a.csv", headers, [["R1", "FH", "MAILLY", "Tuteur", "oui", ""]]))
    assert (first.created, first.problems) == (1, [])
    rows = [["R1", "FH", "MAILLY", "Voisin\x1b[2J", "peut-être", "1 rue Neuve"],
            ["R2", "FH", "DUPONT", "Famille", "Bitcoin", ""]]
    result = run(write_csv(tmp_path / "r.csv", headers, rows))
    assert (result.created, result.updated, result.problems, result.written) == (1, 1, [], True)
    shown = printable(rows[0][3])
    assert [note.split(" : ")[:2] for note in result.notes] == [
        ["Avertissement, ligne 2, colonne Lien du tuteur", f"valeur « {shown} »"],
        ["Avertissement, ligne 2, colonne Prélèvement", "valeur « peut-être »"],
        ["Avertissement, ligne 3, colonne Prélèvement", "valeur « Bitcoin »"]]
    assert "lien non reconnu" in result.notes[0] and "laissé tel quel" in result.notes[0]
    assert "mode de règlement non reconnu" in result.notes[1]
    assert all(find_control(note) is None for note in result.notes)
    kept, new = Resident.select().order_by(Resident.external_id)
    assert (kept.guardian_relation, kept.direct_debit, kept.guardian_address) == ("tuteur", True, "1 rue Neuve")
    assert (new.guardian_relation, new.direct_debit) == ("famille", False)


def test_a_control_character_in_an_address_is_still_a_problem(structures, tmp_path):
    headers = ("N° résident", "Structure", "Nom", "Lien du tuteur", "Adresse tuteur")
    before = dump()
    result = run(write_csv(tmp_path / "r.csv", headers, [["R1", "FH", "MAILLY", "", "rue\x1b[2J"]]))
    assert [(problem.line, problem.column) for problem in result.problems] == [(2, "Adresse tuteur")]
    assert "caractère de contrôle" in result.problems[0].reason
    assert dump() == before


def test_lone_ambiguous_headers_are_not_taken_for_relation_or_payment():
    headers = ["N° résident", "Lien", "Relation", "Mesure", "Règlement"]
    assert guess_mapping(headers, "residents") == {"external_id": 0}
    explicit = ["N° résident", "Lien avec le résident", "Mode de règlement"]
    assert guess_mapping(explicit, "residents") == {"external_id": 0, "guardian_relation": 1, "direct_debit": 2}
    assert guess_mapping(["Resident ID", "Guardian relation", "Payment method"], "residents") == {
        "external_id": 0, "guardian_relation": 1, "direct_debit": 2}


@pytest.mark.parametrize(("text", "relation"), [
    ("Curatelle renforcée", "curateur"), ("TUTRICE", "tuteur"), ("Tuteur familial", "tuteur"),
    ("MJPM", "mandataire judiciaire"), ("Nièce", "famille"), ("neveu", "famille"), ("Sœur", "famille"),
    ("Épouse", "famille"), ("conjoint", "famille"), ("Habilitation familiale", "famille"), ("", ""),
    ("Voisin", None), ("Anne [/] Marie", None)])
def test_a_relation_is_read_by_word_start_in_the_domain(text, relation):
    assert read_relation(text) == relation


@pytest.mark.parametrize(("text", "debit"), [
    ("Prélèvement SEPA", True), ("SEPA", True), ("oui", True), ("1", True), ("Virement bancaire", False),
    ("Virement SEPA", False), ("chèque", False), ("Espèces", False), ("non", False), ("", None)])
def test_a_payment_mode_is_read_by_word_start_in_the_domain(text, debit):
    assert read_direct_debit(text) is debit
    with pytest.raises(ValueError):
        read_direct_debit("peut-être")
