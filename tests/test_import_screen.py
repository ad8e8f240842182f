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
from tuiapp.db.models import ImportProfile, Invoice, Resident
from tuiapp.services.path_completion import complete_path

FILES = (".csv", ".xlsx")
ENCODING = "utf-8"  # cp1252 once the reader detects it

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
def app(demo_db_file, monkeypatch):
    monkeypatch.chdir(demo_db_file.parent)
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


async def test_a_file_is_found_read_previewed_and_its_mapping_changed(app, demo_db_file):
    residents_csv(demo_db_file.parent / "residents-2024.csv", bad=False)
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
        assert "200 ligne(s) de données, 7 colonne(s)." in text
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


def test_snapshot_import_screen(snap_compare, demo_db_file, monkeypatch):
    monkeypatch.chdir(demo_db_file.parent)
    residents_csv(demo_db_file.parent / "residents.csv", bad=False)
    snap = create_app(demo_db_file.relative_to(demo_db_file.parent))
    try:
        assert _snap(snap_compare, snap, ("i", *"residents.csv", "enter"))
    finally:
        db.close()
