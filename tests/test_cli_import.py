"""``tuiapp import residents|invoices FILE`` (in the test process, ``tests.cli_runner``; as a real
process once, and as other Unix users): the report on standard output, exit 0 imported, 1 refused
(nothing written), 2 usage error; never a traceback."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli_runner import CliResult, run_cli
from tests.import_samples import RESIDENT_HEADERS, write_csv
from tuiapp.db.database import db, open_database
from tuiapp.db.models import Invoice, Structure
from tuiapp.domain.safe_text import find_control

INVOICES = ("N° facture", "N° résident", "Période", "Date facture", "Montant HT")


def tuiapp(*args: str, cwd: Path | None = None, process: bool = False) -> CliResult | subprocess.CompletedProcess:
    """The command in the test process, or (``process``) as a real one."""
    result: CliResult | subprocess.CompletedProcess
    if process:
        result = subprocess.run([sys.executable, "-m", "tuiapp", *args], capture_output=True, text=True, timeout=60,
                                env=os.environ.copy(), cwd=cwd)
    else:
        result = run_cli(*args, cwd=cwd)
    assert "Traceback" not in result.stderr + result.stdout
    return result


def table_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608 (the tests' names)


@pytest.fixture
def base(tmp_path) -> Path:
    path = tmp_path / "tuiapp.db"
    open_database(path)
    Structure.create(code="FH", name="Foyer Les Tilleuls")
    db.close()
    return path


def residents_file(tmp_path: Path, *rows: list[str]) -> Path:
    return write_csv(tmp_path / "residents.csv", RESIDENT_HEADERS, rows or (
        ["R1", "FH", "MAILLY", "Josiane", "josiane@example.org", ""],
        ["R2", "FH", "BERNARD", "Paul", "", "tuteur@example.org"]))


def test_import_then_reimport_says_what_it_did(base, tmp_path):
    path = residents_file(tmp_path)
    first = tuiapp("import", "residents", str(path), "--db", str(base), process=True)  # the real command
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"Fichier : {path} (CSV, encodage utf-8, séparateur « ; ») : 2 lignes de données."
    assert lines[1].startswith("Colonnes : N° résident -> N° résident (external_id) ; Structure -> Structure")
    assert lines[-1] == "Résidents : 2 créés, 0 modifié, 0 inchangé."
    before = table_rows(base, "resident")
    again = tuiapp("import", "residents", str(path), "--db", str(base))
    assert (again.returncode, again.stdout.splitlines()[-1]) == (0, "Résidents : 0 créé, 0 modifié, "
                                                                    "2 inchangés.")
    assert table_rows(base, "resident") == before


def test_a_report_that_cannot_be_written_does_not_hide_the_import_done(base, tmp_path):
    # /proc is a folder (the --report check passes) where no file can be made: written after the import
    result = tuiapp("import", "residents", str(residents_file(tmp_path)), "--db", str(base),
                    "--report", "/proc/rapport.csv")
    assert result.returncode == 2
    assert result.stdout.splitlines()[-1] == "Résidents : 2 créés, 0 modifié, 0 inchangé."
    assert "Le rapport « /proc/rapport.csv » n'a pas pu être écrit" in result.stderr
    assert "l'import, lui, a été fait" in result.stderr
    assert len(table_rows(base, "resident")) == 2


def test_a_refused_file_reports_every_problem_and_writes_nothing(base, tmp_path):
    path = residents_file(tmp_path, ["R1", "FH", "MAILLY", "", "pas-une-adresse", ""],
                          ["R2", "ZZ", "BERNARD", "", "", ""], ["R3", "FH", "\x1b]0;titre\x07NOM", "", "", ""])
    report = tmp_path / "rapport.csv"
    result = tuiapp("import", "residents", str(path), "--db", str(base), "--report", str(report))
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert out[2].startswith("ligne 2, colonne Courriel : valeur « pas-une-adresse » : « pas-une-adresse » n'est "
                             "pas une adresse e-mail valide")
    assert out[3].startswith("ligne 3, colonne Structure : valeur « ZZ » : structure inconnue")
    assert out[4].startswith("ligne 4, colonne Nom : valeur « \ufffd]0;titre\ufffdNOM » : le texte ne doit")
    assert out[-1] == "Rien n'a été écrit : 3 problèmes."
    assert find_control(result.stdout.replace("\n", "")) is None
    with report.open(encoding="utf-8-sig", newline="") as written:
        assert [row[:2] for row in csv.reader(written, delimiter=";")] == [
            ["ligne", "colonne"], ["2", "Courriel"], ["3", "Structure"], ["4", "Nom"]]
    assert table_rows(base, "resident") == []


def test_dry_run_writes_nothing_and_exits_0_when_clean(base, tmp_path):
    result = tuiapp("import", "residents", str(residents_file(tmp_path)), "--db", str(base), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ("Simulation, rien n'a été écrit : 2 créés, 0 modifié, "
                                              "0 inchangé si le fichier était importé.")
    assert table_rows(base, "resident") == []


def test_the_reviewers_relation_and_payment_values_import_and_an_unknown_one_is_a_warning(base, tmp_path):
    """Review of issue 14: these values refused the whole file ("Rien n'a été écrit", exit 1)."""
    headers = ("N° résident", "Structure", "Nom", "Mode de règlement", "Mesure de protection")
    path = write_csv(tmp_path / "r.csv", headers, [
        ["R1", "FH", "MAILLY", "Virement bancaire", "Curatelle renforcée"],
        ["R2", "FH", "BERNARD", "Prélèvement SEPA", "Nièce"],
        ["R3", "FH", "DURAND", "Carte Bleue", "Voisin"]])
    dry = tuiapp("import", "residents", str(path), "--db", str(base), "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Rien n'a été écrit" not in dry.stdout
    warnings = [line for line in dry.stdout.splitlines() if line.startswith("Avertissement")]
    assert len(warnings) == 1
    assert warnings[0].startswith("Avertissement, ligne 4, colonne Mesure de protection : valeur « Voisin » : "
                                  "lien non reconnu")
    assert dry.stdout.splitlines()[-1].startswith("Simulation, rien n'a été écrit : 3 créés")
    done = tuiapp("import", "residents", str(path), "--db", str(base))
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(base) as connection:
        got = connection.execute("SELECT external_id, guardian_relation, direct_debit FROM resident "
                                 "ORDER BY external_id").fetchall()
    assert got == [("R1", "curateur", 0), ("R2", "famille", 1), ("R3", "", 0)]


@pytest.mark.parametrize(("args", "message"), [
    (("absent.csv",), "ne peut pas être lu"),
    (("residents.csv", "--map", "N° résident=couleur"), "champ inconnu"),
    (("residents.csv", "--map", "Inconnue=external_id"), "n'est pas dans le fichier"),
    (("residents.csv", "--profile", "jamais-vu"), "profil « jamais-vu » inconnu"),
    (("residents.csv", "--delimiter", "::"), "Séparateur « :: » non pris en charge"),
    (("residents.csv", "--report", "nulle/part/rapport.csv"), "--report"),
])
def test_usage_errors_exit_2(base, tmp_path, args, message):
    residents_file(tmp_path)
    result = tuiapp("import", "residents", *args, "--db", str(base), cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert table_rows(base, "resident") == []


def test_a_mapping_saved_as_a_profile_is_reused(base, tmp_path):
    headers = ("Réf", "Établissement", "Patronyme", "Remarque")
    path = write_csv(tmp_path / "autre.csv", headers, [["R1", "FH", "MAILLY", "x"]])
    guessed = tuiapp("import", "residents", str(path), "--db", str(base))
    assert guessed.returncode == 1 and "colonne obligatoire absente" in guessed.stdout
    assert 'Pour désigner les colonnes : --map "colonne=champ,…"' in guessed.stdout  # the command's own way
    saved = tuiapp("import", "residents", str(path), "--db", str(base), "--profile", "logiciel",
                   "--map", "Réf=external_id,Patronyme=nom,Remarque=-")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert "Profil « logiciel » enregistré pour les résidents." in saved.stdout
    write_csv(path, headers, [["R1", "FH", "MAILLY-DURAND", "y"]])
    reused = tuiapp("import", "residents", str(path), "--db", str(base), "--profile", "logiciel")
    assert reused.returncode == 0, reused.stdout
    assert "Réf -> N° résident (external_id) ; Établissement -> Structure (structure) ; Patronyme -> Nom " \
           "(last_name) ; non importées : Remarque" in reused.stdout
    assert [row[2] for row in table_rows(base, "resident")] == ["MAILLY-DURAND"]
    other = tuiapp("import", "residents", str(residents_file(tmp_path)), "--db", str(base), "--profile", "logiciel")
    assert other.returncode == 2 and "--profile logiciel : la colonne « Patronyme » n'est pas dans le fichier" in \
        other.stderr, other.stderr


def test_a_change_to_a_mailed_invoice_needs_update_mailed(base, tmp_path):
    assert tuiapp("import", "residents", str(residents_file(tmp_path)), "--db", str(base)).returncode == 0
    path = write_csv(tmp_path / "f.csv", INVOICES, [["F1", "R1", "septembre 2024", "30/09/2024", "1 234,56"],
                                                    ["AV1", "R2", "09/2024", "30/09/2024", "-20,00"]])
    first = tuiapp("import", "invoices", str(path), "--db", str(base))
    assert first.returncode == 1 and "ligne 3, colonne Montant HT" in first.stdout  # an avoir needs its type
    path = write_csv(tmp_path / "f.csv", (*INVOICES, "Nature"), [
        ["F1", "R1", "septembre 2024", "30/09/2024", "1 234,56", ""],
        ["AV1", "R2", "09/2024", "30/09/2024", "-20,00", "AV"]])
    assert tuiapp("import", "invoices", str(path), "--db", str(base)).returncode == 0
    open_database(base)
    Invoice.update(last_mailed_at=datetime(2024, 10, 2, tzinfo=UTC)).where(Invoice.number == "F1").execute()
    db.close()
    write_csv(path, (*INVOICES, "Nature"), [["F1", "R1", "septembre 2024", "30/09/2024", "1 200,00", ""],
                                            ["AV1", "R2", "09/2024", "30/09/2024", "-20,00", "AV"]])
    before = table_rows(base, "invoice")
    refused = tuiapp("import", "invoices", str(path), "--db", str(base))
    assert refused.returncode == 1
    assert "Factures déjà envoyées que ce fichier modifie : F1 (--update-mailed" in refused.stdout
    assert table_rows(base, "invoice") == before
    accepted = tuiapp("import", "invoices", str(path), "--db", str(base), "--update-mailed")
    assert accepted.returncode == 0, accepted.stdout
    assert "Factures rectifiées (déjà envoyées, à renvoyer) : F1." in accepted.stdout
    assert accepted.stdout.splitlines()[-1] == "Factures : 0 créée, 1 modifiée, 1 inchangée."


def test_in_service_mode_only_operators_and_administrators_import(office):
    import shutil
    import tempfile

    from tests.test_roles import run_as, write_config

    folder = Path(tempfile.mkdtemp(prefix="tuiapp-import-"))  # not under root's private pytest folder
    try:
        database = folder / "tuiapp.db"
        open_database(database)
        Structure.create(code="FH", name="Foyer")
        db.close()
        path = residents_file(folder)
        config = write_config(folder, database, operator_group=office.group, admin_group="root")
        for item in (folder, *folder.iterdir()):
            os.chown(item, 0, office.gid)
            item.chmod(0o2775 if item.is_dir() else 0o664)
        refused = run_as(office, office.carol, config, "import", "residents", str(path))
        assert refused.returncode == 2 and "aucun rôle" in refused.stderr and "importer" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert table_rows(database, "resident") == []
        accepted = run_as(office, office.alice, config, "import", "residents", str(path))
        assert accepted.returncode == 0, accepted.stderr
        assert len(table_rows(database, "resident")) == 2
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_xlsx_sheet_is_named_in_the_header(base, tmp_path):
    from tests.import_samples import write_xlsx

    path = write_xlsx(tmp_path / "residents.xlsx", RESIDENT_HEADERS, [["R1", "FH", "MAILLY", "Josiane", "", ""]],
                      sheet="Résidents 2024")
    result = tuiapp("import", "residents", str(path), "--db", str(base), "--sheet", "Résidents 2024")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (f"Fichier : {path} (XLSX, feuille « Résidents 2024 ») : "
                                             "1 ligne de données.")
    missing = tuiapp("import", "residents", str(path), "--db", str(base), "--sheet", "Autre")
    assert missing.returncode == 2 and "Autre" in missing.stderr
    moot = tuiapp("import", "residents", str(path), "--db", str(base), "--encoding", "cp1252", "--dry-run")
    assert moot.returncode == 0 and "--encoding sans effet : ce fichier est un XLSX." in moot.stderr


def test_a_base_held_by_another_writer_is_said_busy_and_nothing_is_written(base, tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_DB_WAIT", "0.5")
    holder = sqlite3.connect(base, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing (a send's claim, another import)
        result = tuiapp("import", "residents", str(residents_file(tmp_path)), "--db", str(base))
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert result.returncode == 2 and "occupée par un autre programme" in result.stderr, result.stderr
    assert table_rows(base, "resident") == []
