"""The Import screen, keyboard only at 80x24: from the home screen to the file path (completed from
the disk), the reading, the preview under the mapping, the check, the confirmation and the import."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, ProgressBar, Static

from tests.test_hostile_data import control_on_screen, screen_text
from tests.test_screens import SIZE, _snap, press, settle, type_text
from tuiapp.app import create_app
from tuiapp.db.database import db
from tuiapp.db.import_models import ImportProfile
from tuiapp.db.models import Invoice, Resident
from tuiapp.services.path_completion import complete_path

FILES = (".csv", ".xlsx")
ENCODING = "cp1252"  # as the billing software writes it

# -- completing a path ----------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path) -> Path:
    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("factures-2024.csv", "facturation.xlsx", "avril.csv", "notes.pdf", ".cache.csv", "\x1b[2J.csv"):
        (exports / name).write_text("x")
    (exports / "factures-archives").mkdir()
    return tmp_path


def test_a_path_is_completed_one_step_at_a_time(folder):
    root = str(folder)
    assert complete_path(f"{root}/exp") == f"{root}/exports/"  # a folder ends with "/"
    assert complete_path(f"{root}/exports/f", suffixes=FILES) == f"{root}/exports/factur"  # what they share
    assert complete_path(f"{root}/exports/facture", suffixes=FILES) == f"{root}/exports/factures-"
    assert complete_path(f"{root}/exports/factures-2", suffixes=FILES) == f"{root}/exports/factures-2024.csv"
    assert complete_path(f"{root}/exports/factures-a") == f"{root}/exports/factures-archives/"
    assert complete_path(f"{root}/exports/factures-2024.csv") is None  # nothing more to say
    assert complete_path(f"{root}/exports/n", suffixes=FILES) is None  # a PDF is not offered for a table
    assert complete_path(f"{root}/exports/n") == f"{root}/exports/notes.pdf"
    assert complete_path(f"{root}/nowhere/x") is None


def test_a_name_that_is_not_utf8_is_never_offered(tmp_path):
    # its undecodable byte would be a lone surrogate on the screen (and cannot be typed)
    with open(os.path.join(os.fsencode(tmp_path), b"ab\xff.csv"), "w") as file:
        file.write("x")
    assert complete_path(f"{tmp_path}/ab", suffixes=FILES) is None
    (tmp_path / "abc.csv").write_text("x")
    assert complete_path(f"{tmp_path}/ab", suffixes=FILES) == f"{tmp_path}/abc.csv"


def test_hidden_names_only_when_asked_and_never_a_control_character(folder):
    root = f"{folder}/exports/"
    assert complete_path(root, suffixes=FILES) == root + "avril.csv"  # the first, sorted; not ".cache"
    assert complete_path(root + ".", suffixes=FILES) == root + ".cache.csv"
    assert complete_path(root + "\x1b") is None  # a name with ESC is never offered, nor typed
    assert all("\x1b" not in (complete_path(root + start) or "") for start in ("", "\x1b", "["))


def test_the_home_folder_stays_a_tilde(folder, monkeypatch):
    monkeypatch.setenv("HOME", str(folder))
    assert complete_path("~") == "~/"
    assert complete_path("~/exp") == "~/exports/"  # the suggestion begins with what is typed


def test_a_huge_folder_is_read_only_so_far(tmp_path):
    for number in range(300):
        (tmp_path / f"f{number:03}.csv").touch()
    assert complete_path(f"{tmp_path}/f", limit=0) is None  # nothing read, nothing offered
    found = complete_path(f"{tmp_path}/f", limit=20)
    assert found is not None and found.startswith(f"{tmp_path}/f")


# -- the screen ----------------------------------------------------------------------------

HEADERS = "Matricule;Établissement;Nom;Prénom;Adresse mail;Contact;Remarque"


def residents_csv(path: Path, bad: bool) -> None:
    """200 residents in Windows-1252 (the billing software's export); with ``bad``, lines 5, 40 and 150
    (the header is line 1) are wrong: an address, a structure, a missing name."""
    lines = [HEADERS]
    for number in range(1, 201):
        line = number + 1
        email = "pas-une-adresse" if bad and line == 5 else f"r{number}@exemple.fr"
        structure = "INCONNUE" if bad and line == 40 else ("FH", "EHPAD", "FAM")[number % 3]
        name = "" if bad and line == 150 else f"Lefèvre{number}"
        lines.append(f"R{number:04};{structure};{name};Éloïse;{email};tuteur{number}@exemple.fr;[b]note")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(ENCODING))


@pytest.fixture
def app(demo_db_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    application = create_app(demo_db_file)
    yield application
    db.close()


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def wait_workers(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)
    await pilot.app.workers.wait_for_complete()  # a reading followed by its check
    await settle(pilot)


async def open_file(pilot, typed: str) -> None:
    """From the home screen: i, then type the start of the path, → to take each completion, Entrée."""
    await press(pilot, "i")
    assert type(pilot.app.screen).__name__ == "ImportScreen"
    await type_text(pilot, typed)
    await wait_workers(pilot)  # the suggestion is read in a thread


async def test_a_file_is_found_read_previewed_and_its_mapping_changed(app, tmp_path):
    residents_csv(tmp_path / "residents-2024.csv", bad=False)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "escape")  # the kind first: Résidents
        await press(pilot, "i")
        kind = app.screen.query_one("#kind")
        kind.focus()
        await press(pilot, "enter", "down", "enter")
        assert app.screen.kind == "residents"
        app.screen.query_one("#path").focus()
        await type_text(pilot, "resi")
        await wait_workers(pilot)
        path = app.screen.query_one("#path", Input)
        assert path._suggestion == "residents-2024.csv"
        await press(pilot, "right", "enter")  # take it, read it
        await wait_workers(pilot)
        assert path.value == "residents-2024.csv"
        text = screen_text(app)
        assert "200 lignes de données, 7 colonnes." in text
        assert app.screen.query_one("#encoding", Input).value == ENCODING
        assert app.screen.query_one("#delimiter", Input).value == ";"
        assert "Matricule → N° résident" in text and "Établissement → Structure" in text
        assert "Lefèvre1" in text  # the first rows, decoded
        assert control_on_screen(text) is None
        # The "Contact" column holds the guardian's address: Entrée on it, then its field.
        await press(pilot, "tab", "tab", "tab")
        preview = app.screen.query_one("#preview", DataTable)
        assert preview.has_focus
        await press(pilot, *["right"] * 5, "enter")
        assert app.screen.query_one("#column-field").expanded
        await type_text(pilot, "Courriel du t")
        await press(pilot, "enter")
        assert preview.has_focus
        assert "Contact → Courriel du tuteur" in screen_text(app)
        assert app.screen.mapping["guardian_email"] == 5
    db.close()


@pytest.mark.sqlite_only  # the title bar shows the base's name (a PostgreSQL copy's differs each run)
def test_snapshot_import_screen(snap_compare, demo_db_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stable title bar: the path as typed
    rows = ["N° facture;Matricule;Période;Date facture;Libellé;Qté;PU;Montant HT"]
    for number in range(1, 7):
        rows.append(f"FH-202410-{number:03};R{number:04};10/2024;31/10/2024;Hébergement;31;58,40;1 810,40")
    (tmp_path / "factures.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    snap = create_app(demo_db_file.relative_to(tmp_path))
    try:
        def check(app):  # no title cut by the screen's edge ("Date factu"): it starts past it
            from tests.test_table_headers import headers_on_screen

            assert headers_on_screen(app.screen.query_one("#preview", DataTable)) == [
                "N° facture → N° facture", "Matricule → N° résident", "Période → Période"]

        assert _snap(snap_compare, snap, ("i", *"factures.csv", "enter"), check=check)
    finally:
        db.close()


async def choose_residents(pilot) -> None:
    """On the Import screen (the path focused): Shift+Tab up to the kind, Résidents, back to the path."""
    await press(pilot, "shift+tab", "shift+tab", "enter", "down", "enter", "tab", "tab")
    assert pilot.app.screen.kind == "residents" and pilot.app.screen.query_one("#path").has_focus


async def read_residents_file(pilot, name: str) -> None:
    """From the home screen: the Import screen, kind Résidents, ``name`` typed, read (Entrée)."""
    await press(pilot, "i")
    await choose_residents(pilot)
    await type_text(pilot, name)
    await press(pilot, "enter")
    await wait_workers(pilot)


async def test_a_check_with_only_warnings_counts_them_in_its_verdict(app, tmp_path):
    rows = ["N° résident;Structure;Nom;Lien du tuteur", "Z0001;FH;MAILLY;Voisin", "Z0002;FH;DUPONT;Famille"]
    (tmp_path / "liens.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = Resident.select().count()
    async with app.run_test(size=SIZE) as pilot:
        await read_residents_file(pilot, "liens.csv")
        await press(pilot, "ctrl+t")  # Vérifier
        await wait_workers(pilot)
        report = text_of(app, "#report")
        assert report.startswith("Vérification de « liens.csv » : 1 avertissement, rien de bloquant, 2 nouveaux, "
                                 "0 modifié, 0 inchangé. Rien n'a été écrit."), report
        assert "rien à redire" not in report
        warnings = [line for line in report.split("\n") if line.startswith("Avertissement")]
        assert len(warnings) == 1 and "ligne 2, colonne Lien du tuteur" in warnings[0], report
    assert Resident.select().count() == before


async def test_three_bad_rows_are_reported_then_the_fixed_file_is_imported(app, tmp_path):
    export = tmp_path / "residents.csv"
    residents_csv(export, bad=True)
    before = Resident.select().count()
    async with app.run_test(size=SIZE) as pilot:
        await read_residents_file(pilot, "residents.csv")
        await press(pilot, "tab", "tab", "tab", *["right"] * 5, "enter")  # Contact: the guardian's address
        await type_text(pilot, "Courriel du t")
        await press(pilot, "enter")
        await press(pilot, "f4")  # saved as a profile, for next month
        await type_text(pilot, "Export mensuel")
        await press(pilot, "enter")

        await press(pilot, "ctrl+t")  # Vérifier
        await wait_workers(pilot)
        report = text_of(app, "#report")
        assert "3 problèmes, l'import serait refusé. Rien n'a été écrit." in report
        bad = [line for line in report.split("\n") if line.startswith("ligne ")]
        assert [line.split(",")[0] for line in bad] == ["ligne 5", "ligne 40", "ligne 150"], report
        assert "colonne Adresse mail : valeur « pas-une-adresse »" in bad[0]
        assert "colonne Établissement : valeur « INCONNUE »" in bad[1]
        assert Resident.select().count() == before

        residents_csv(export, bad=False)  # fixed in the spreadsheet; the screen reads it again
        await press(pilot, "ctrl+s")
        await wait_workers(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen", text_of(app, "#report")
        assert "200 nouveaux" in text_of(app, "#question")
        await press(pilot, "o")
        await wait_workers(pilot)
        assert type(app.screen).__name__ == "ImportScreen"
        assert "Import de « residents.csv » terminé : 200 nouveaux, 0 modifié, 0 inchangé." in text_of(app, "#report")
        bar = app.screen.query_one(ProgressBar)
        assert (bar.total, bar.progress) == (200, 200)
    assert Resident.select().count() == before + 200
    imported = Resident.get(Resident.external_id == "R0007")
    assert (imported.last_name, imported.first_name, imported.structure.code) == ("Lefèvre7", "Éloïse", "EHPAD")
    assert (imported.email, imported.guardian_email) == ("r7@exemple.fr", "tuteur7@exemple.fr")
    profile = ImportProfile.get(ImportProfile.name == "Export mensuel")
    assert profile.kind == "residents" and '"Contact": "guardian_email"' in profile.mapping


async def test_a_saved_profile_gives_its_mapping_back(app, tmp_path):
    from tuiapp.services.import_mapping import save_profile

    save_profile("Export mensuel", "residents", {"Contact": "guardian_email", "Adresse mail": "-"})
    residents_csv(tmp_path / "residents.csv", bad=False)
    async with app.run_test(size=SIZE) as pilot:
        await read_residents_file(pilot, "residents.csv")
        assert "guardian_email" not in app.screen.mapping
        await press(pilot, "shift+tab", "enter", "down", "enter")  # the profile's list: its first
        mapping = app.screen.mapping
        assert mapping["guardian_email"] == 5 and "email" not in mapping
        headers = [column.label.plain for column in app.screen.query_one("#preview", DataTable).columns.values()]
        assert "Adresse mail → (ignorée)" in headers and "Contact → Courriel du tuteur" in headers


async def test_a_mailed_invoice_changes_only_with_the_box_ticked(app, tmp_path):
    mailed = Invoice.select().where(Invoice.last_mailed_at.is_null(False)).order_by(Invoice.id).first()
    resident = mailed.resident
    resident.external_id = "R-77"
    resident.save()
    period = f"{mailed.period_month:02}/{mailed.period_year}"
    export = tmp_path / "factures.csv"
    export.write_text("N° facture;N° résident;Période;Date facture;Montant HT;Type\n"
                      f"{mailed.number};R-77;{period};28/{period};999,99;Facture\n"
                      f"AV-{mailed.number};R-77;{period};30/{period};-10,00;Avoir\n", encoding="utf-8")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "i")
        await type_text(pilot, "factures.csv")
        await press(pilot, "enter", "ctrl+t")
        await wait_workers(pilot)
        report = text_of(app, "#report")
        assert f"1 facture déjà envoyée que l'import modifie : {mailed.number}." in report
        assert "Cochez « Mettre à jour les factures déjà envoyées »" in report
        assert "--update-mailed" not in report  # the command's option: the screen has its box
        assert "l'import serait refusé" in report
        await press(pilot, "tab", "tab", "tab", "tab", "tab")  # encoding, separator, preview, its field, the box
        box = app.screen.query_one("#update-mailed", Checkbox)
        assert box.has_focus
        await press(pilot, "space", "ctrl+s")
        await wait_workers(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen", text_of(app, "#report")
        question = text_of(app, "#question")
        assert "1 nouvelle, 1 modifiée" in question and "1 facture déjà envoyée sera marquée rectifiée" in question
        await press(pilot, "o")
        await wait_workers(pilot)
    changed = Invoice.get_by_id(mailed.id)
    assert str(changed.amount_ht) == "999.99" and changed.rectified_at is not None and changed.last_mailed_at is None
    credit = Invoice.get(Invoice.number == f"AV-{mailed.number}")
    assert credit.kind == "avoir" and str(credit.amount_ht) == "-10.00"


async def test_a_locked_base_is_said_and_the_screen_stays(demo_db_file, tmp_path, monkeypatch):
    """Another workstation writes all along: it holds SQLite's write lock, or PostgreSQL's
    writers' lock (``write_transaction``'s advisory lock), through a connection of the test's own."""
    from tests.raw import raw

    monkeypatch.setenv("TUIAPP_DB_WAIT", "0.2")  # before the base is opened (PostgreSQL's lock_timeout)
    monkeypatch.chdir(tmp_path)
    residents_csv(tmp_path / "residents.csv", bad=False)
    app = create_app(demo_db_file)
    before = Resident.select().count()
    try:
        with raw(demo_db_file) as holder:
            async with app.run_test(size=SIZE) as pilot:
                await press(pilot, "i")
                await choose_residents(pilot)
                await type_text(pilot, "residents.csv")
                await press(pilot, "ctrl+s")  # read, checked, then the question
                await wait_workers(pilot)
                holder.hold_writers()  # another workstation's long write, from now on (until the block's end)
                await press(pilot, "o")
                await wait_workers(pilot)
                assert type(app.screen).__name__ == "ImportScreen"
                report = text_of(app, "#report")
                assert report.startswith("Rien n'a été écrit.") and "occupée par un autre programme" in report
        assert Resident.select().count() == before
    finally:
        db.close()


async def test_a_workbooks_other_sheet_is_chosen_then_imported(app, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["Export du 28/09/2024"])
    sheet = book.create_sheet("Résidents")
    sheet.append(["N° résident", "Structure", "Nom", "Prénom"])
    for number in range(1, 4):
        sheet.append([f"X{number}", "FAM", f"Martin{number}", "Léa"])
    book.save(tmp_path / "export.xlsx")
    async with app.run_test(size=SIZE) as pilot:
        await read_residents_file(pilot, "export.xlsx")
        sheet_field = app.screen.query_one("#sheet", Input)
        assert "XLSX" in screen_text(app) and sheet_field.value == "Notes"
        assert not app.screen.query_one("#encoding").display  # a CSV's setting
        await press(pilot, "tab")  # the sheet's field (the encoding and separator are a CSV's)
        assert sheet_field.has_focus
        await press(pilot, "ctrl+u")
        await type_text(pilot, "Résidents")
        await press(pilot, "enter")
        await wait_workers(pilot)
        assert "3 lignes de données, 4 colonnes." in screen_text(app)
        await press(pilot, "ctrl+s")
        await wait_workers(pilot)
        await press(pilot, "o")
        await wait_workers(pilot)
        assert "terminé : 3 nouveaux" in text_of(app, "#report")
    assert [r.last_name for r in Resident.select().where(Resident.external_id.startswith("X"))
            .order_by(Resident.external_id)] == ["Martin1", "Martin2", "Martin3"]


async def test_an_account_without_the_import_right_is_told_why(demo_db_file, tmp_path, monkeypatch):
    """No role that opens the app lacks it today (operators import): the screen asks all the same."""
    from tests.test_roles import notices
    from tuiapp.domain.roles import Action, Role, refusal

    monkeypatch.chdir(tmp_path)
    residents_csv(tmp_path / "residents.csv", bad=False)
    app = create_app(demo_db_file, role=Role.NONE)  # opens the base
    before = Resident.select().count()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await read_residents_file(pilot, "residents.csv")
            assert app.screen.active_bindings["ctrl+s"].enabled is False  # shown, dimmed
            await press(pilot, "ctrl+s", "f4")
            await wait_workers(pilot)
            assert type(app.screen).__name__ == "ImportScreen"
            assert notices(app).count(refusal(Role.NONE, Action.IMPORT)) == 2
    finally:
        db.close()
    assert Resident.select().count() == before and ImportProfile.select().count() == 0


async def test_a_folder_of_pdfs_is_checked_then_attached(app, tmp_path):
    from tests.test_import_pdfs import make_pdf
    from tuiapp.db.import_models import InvoicePdf

    unsent = Invoice.select().where(Invoice.last_mailed_at.is_null()).order_by(Invoice.id).limit(2)
    numbers = [invoice.number for invoice in unsent]
    folder = tmp_path / "pdf-octobre"
    folder.mkdir()
    for number in numbers:
        (folder / f"Facture {number}.pdf").write_bytes(make_pdf(number))
    (folder / "lisez-moi.txt").write_text("x")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "i", "shift+tab", "shift+tab", "enter", "down", "down", "enter", "tab")
        assert app.screen.kind == "pdfs" and not app.screen.query_one("#mapping").display
        assert app.screen.query_one("#path").has_focus  # the profile's list is a table's: hidden
        await type_text(pilot, "pdf-o")
        await wait_workers(pilot)
        assert app.screen.query_one("#path", Input)._suggestion == "pdf-octobre/"  # a folder, not its files
        await press(pilot, "right", "enter")  # Entrée: the check
        await wait_workers(pilot)
        report = text_of(app, "#report")
        assert "Vérification de « pdf-octobre » : rien à redire, 2 nouveaux, 0 remplacé, 0 inchangé." in report, report
        for number in numbers:
            assert report.count(f"Facture {number} : « Facture {number}.pdf » (nouveau)") == 1  # said once
        assert InvoicePdf.select().count() == 0
        await press(pilot, "ctrl+s")
        await wait_workers(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await press(pilot, "o")
        await wait_workers(pilot)
        assert "Import de « pdf-octobre » terminé : 2 nouveaux" in text_of(app, "#report")
        bar = app.screen.query_one(ProgressBar)
        assert (bar.total, bar.progress) == (2, 2)  # the files checked, one by one
    assert sorted(pdf.invoice.number for pdf in InvoicePdf.select()) == sorted(numbers)


async def test_the_reading_can_be_overridden_then_detected_again(app, tmp_path):
    from tests.test_roles import notices

    residents_csv(tmp_path / "residents.csv", bad=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_file(pilot, "residents.csv")
        await press(pilot, "enter")
        await wait_workers(pilot)
        encoding = app.screen.query_one("#encoding", Input)
        assert encoding.value == "cp1252"
        await press(pilot, "tab", "ctrl+u")
        await type_text(pilot, "klingon")
        await press(pilot, "enter")
        assert "Encodage inconnu : « klingon » (ex. utf-8, cp1252, latin-1)." in notices(app)
        await press(pilot, "ctrl+u")
        await type_text(pilot, "utf-8")  # wrong for this file: said in French, nothing previewed
        await press(pilot, "enter")
        await wait_workers(pilot)
        assert "utf-8" in text_of(app, "#file-state") and not app.screen.query_one("#preview", DataTable).columns
        await press(pilot, "ctrl+u")
        await type_text(pilot, "latin-1")
        await press(pilot, "enter")
        await wait_workers(pilot)
        assert encoding.value == "iso8859-1" and "Lefèvre1" in screen_text(app)
        await press(pilot, "tab", "ctrl+u")
        await type_text(pilot, "tab")  # a Tab cannot be typed: its name
        await press(pilot, "enter")
        await wait_workers(pilot)
        assert app.screen.query_one("#delimiter", Input).value == "tab"
        assert "200 lignes de données, 1 colonne." in text_of(app, "#file-state")
        app.screen.query_one("#path").focus()
        await press(pilot, "enter")  # the file again: everything detected again
        await wait_workers(pilot)
        assert (encoding.value, app.screen.query_one("#delimiter", Input).value) == ("cp1252", ";")
        assert "7 colonnes" in text_of(app, "#file-state")


async def test_a_missing_column_is_said_in_the_screens_words(app, tmp_path):
    residents_csv(tmp_path / "residents.csv", bad=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_file(pilot, "residents.csv")  # the kind left at Factures: none of an invoice's columns
        await press(pilot, "ctrl+t")
        await wait_workers(pilot)
        report = text_of(app, "#report")
        assert ("fichier, colonne N° facture : valeur «  » : colonne obligatoire absente "
                "(champ number) : désignez-la si elle porte un autre nom.") in report
        assert "Pour désigner une colonne : Entrée sur sa colonne dans l'aperçu." in report
        assert "--map" not in report
        assert "Sans colonne : N° facture, Période" in text_of(app, "#file-state")


def test_the_reports_sentences():
    from tuiapp.services.import_report import ImportResult, Problem
    from tuiapp.widgets.import_run import PROBLEMS_SHOWN, RunRequest, report_text

    write = RunRequest("invoices", Path("/x/f.csv"), {}, write=True)
    assert report_text(write, ImportResult("invoices")) == (
        "Import de « f.csv » : rien à changer, la base est déjà à jour.")
    many = ImportResult("residents", problems=[Problem(n, "Nom", "[/]\x1b[2J", "vide") for n in range(2, 900)])
    text = report_text(RunRequest("residents", Path("[b].csv"), {}), many)
    assert text.startswith("Vérification de « [b].csv » : 898 problèmes, l'import serait refusé.")
    assert text.count("\n") == PROBLEMS_SHOWN + 2 and "\x1b" not in text
    assert text.endswith(f"… et {898 - PROBLEMS_SHOWN} autres problèmes (tous : tuiapp import … --report FICHIER.csv).")
