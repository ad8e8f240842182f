"""Printing a period: one PDF per invoice plus toutes.pdf, read back with PyMuPDF, on real bases
(SQLite files; PostgreSQL in its pass)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pymupdf
import pytest

from tuiapp.db import queries
from tuiapp.db.models import Invoice
from tuiapp.domain.periods import Period
from tuiapp.services.printing import print_invoices

SEPTEMBER = Period(2024, 9)


def pdf_text(path: Path) -> str:
    with pymupdf.open(path) as document:
        return " ".join(page.get_text() for page in document)


def page_count(path: Path) -> int:
    with pymupdf.open(path) as document:
        return document.page_count


def visible_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if not path.name.startswith("."))


def test_names_at_the_field_limits_are_printed(make_resident, make_invoice, tmp_path):
    longest = make_resident("É" * 100 + "Ç" * 100, "ï" * 200, email="a@example.org")
    invoice = make_invoice(longest, SEPTEMBER, number="N°" + "é" * 38)
    plain = make_invoice(make_resident("MAILLY", "Josiane"), SEPTEMBER, number="FH-202409-001")

    result = print_invoices([invoice.id, plain.id], tmp_path / "out")

    assert result.failures == []
    assert len(result.files) == 2 and result.combined is not None
    for path in result.files:
        assert len(path.name.encode()) <= 160 and path.parent == tmp_path / "out"
    long_file = next(path for path in result.files if "Ç" in path.name or "É" in path.name)
    assert long_file.name.startswith("Facture_N-" + "é" * 10) and long_file.name.endswith("_2024-09.pdf")
    assert "N°" + "é" * 38 in pdf_text(long_file)
    assert page_count(result.combined) == 2
    assert Invoice.select().where(Invoice.last_printed_at.is_null()).count() == 0


def test_homonyms_get_a_file_each(make_resident, make_invoice, tmp_path):
    first = make_invoice(make_resident("DUPONT", "Jean", email="a@example.org"), SEPTEMBER, number="FH/2024/9")
    second = make_invoice(make_resident("DUPONT", "Jean"), SEPTEMBER, number="FH-2024-9")
    third = make_invoice(make_resident("Dupont", "jean"), SEPTEMBER, number="fh-2024-9")  # differs by case only

    result = print_invoices([first.id, second.id, third.id], tmp_path / "out")

    names = [path.name for path in visible_files(tmp_path / "out")]
    assert len(names) == 4 and "toutes.pdf" in names, names
    assert result.failures == []
    assert len({name.casefold() for name in names}) == 4  # distinct even where case does not count
    texts = [pdf_text(path) for path in result.files]
    for number in ("FH/2024/9", "FH-2024-9", "fh-2024-9"):
        assert sum(number in text for text in texts) == 1, number


def test_hostile_names_never_leave_the_folder(make_resident, make_invoice, tmp_path):
    folder = tmp_path / "a" / "out"
    hostile = make_resident("../../..", "..", email="a@example.org")
    invoices = [
        make_invoice(hostile, SEPTEMBER, number="../../../../tmp/x"),
        make_invoice(make_resident("/etc/passwd", "\\..\\win"), SEPTEMBER, number=".."),
        make_invoice(make_resident("~", "$HOME"), SEPTEMBER, number="/"),
    ]

    before = set(tmp_path.rglob("*"))

    result = print_invoices([invoice.id for invoice in invoices], folder)

    assert len(result.files) == 3
    new = {path for path in set(tmp_path.rglob("*")) - before if not path.name.startswith("tuiapp.db")}
    assert new == {tmp_path / "a", folder, *folder.iterdir()} and len(new) == 2 + 4
    assert all(path.resolve().parent == folder.resolve() for path in result.files)
    assert all(path.name.startswith("Facture_") and ".." not in path.name for path in result.files)


@pytest.mark.sqlite_only  # a date and an amount that are not ones: PostgreSQL's typed columns refuse them
def test_an_invoice_that_fails_does_not_stop_the_others(demo_db, tmp_path):
    from tuiapp.db.database import db

    invoices = list(queries.invoices_of_period(SEPTEMBER))[:6]
    broken, blocked = invoices[1], invoices[3]
    # A hostile row written straight into the database, as a bad import would.
    db.execute_sql("UPDATE invoice SET issue_date = 'pas une date' WHERE id = ?", (broken.id,))
    db.execute_sql("UPDATE invoice SET amount_ht = 'abc' WHERE id = ?", (invoices[4].id,))
    folder = tmp_path / "out"
    first = print_invoices([blocked.id], folder)  # where the next print will want to write...
    first.files[0].unlink()
    first.files[0].mkdir()  # ... is a folder now
    Invoice.update(last_printed_at=None).execute()

    result = print_invoices([invoice.id for invoice in invoices], folder)

    failed = {failure.what.split()[0]: failure.reason for failure in result.failures}
    assert failed == {
        broken.number: "PDF impossible à produire (AttributeError)",
        blocked.number: "un dossier porte déjà ce nom",
        invoices[4].number: "PDF impossible à produire (ValueError)",
    }
    assert f"{broken.number} {broken.resident.display_name} : PDF impossible" in result.failures_text
    assert "3 factures non imprimées" in result.summary
    printed = {invoices[0].id, invoices[2].id, invoices[5].id}
    assert set(result.printed_ids) == printed and len(result.files) == 3
    assert page_count(result.combined) == 3
    stamped = {i for (i,) in Invoice.select(Invoice.id).where(Invoice.last_printed_at.is_null(False)).tuples()}
    assert stamped == printed
    assert not list(folder.glob(".tuiapp-*"))  # the temporary file of the write that failed is gone


def test_temporary_files_of_a_killed_print_are_removed_later(tmp_path):
    from tuiapp.services.atomic_files import remove_stale_temporaries, write_atomically

    old, fresh = tmp_path / ".tuiapp-0123.tmp", tmp_path / ".tuiapp-4567.tmp"
    for path in (old, fresh):
        path.write_bytes(b"%PDF-1.7 trunc")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    write_atomically(tmp_path / "toutes.pdf", b"%PDF whole")
    remove_stale_temporaries(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [".tuiapp-4567.tmp", "toutes.pdf"]
    assert (tmp_path / "toutes.pdf").read_bytes() == b"%PDF whole"


PRINTER = """
import sys
from pathlib import Path
from tuiapp.services.printing import print_invoices
from tuiapp.db.database import open_database
from tuiapp.domain.db_target import parse_target
open_database(parse_target(sys.argv[1]))
print_invoices([int(i) for i in sys.argv[3:]], Path(sys.argv[2]))
"""


def _print_then_kill(demo_db_file, folder: Path, ids: list[int], files_before_kill: int) -> bool:
    """A real process prints; SIGKILL once ``files_before_kill`` invoice PDFs are in the folder.

    Whether the process was still printing when killed."""
    process = subprocess.Popen([sys.executable, "-c", PRINTER, str(demo_db_file), str(folder), *map(str, ids)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if folder.is_dir() and len(list(folder.glob("Facture_*.pdf"))) >= files_before_kill:
            break
        time.sleep(0.002)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    error = process.stderr.read().decode()
    process.stderr.close()
    assert process.returncode in (0, -signal.SIGKILL), error
    return killed


@pytest.mark.parametrize("files_before_kill", [1, "all"])
def test_killed_mid_print_leaves_only_complete_files(demo_db_file, tmp_path, files_before_kill):
    from tuiapp.db.database import open_database, release

    open_database(demo_db_file)
    ids = [invoice.id for invoice in queries.invoices_of_period(SEPTEMBER)][:30]
    release()
    folder = tmp_path / "out"
    # "all": the kill lands while toutes.pdf is being made and written.
    killed = _print_then_kill(demo_db_file, folder, ids, len(ids) if files_before_kill == "all" else files_before_kill)
    assert killed or files_before_kill == "all"  # at the very end, the process may just have finished

    files = visible_files(folder)
    assert files
    for path in files:  # each file there is whole: it opens, all its pages read
        assert path.stat().st_size > 0, path.name
        if path.name == "toutes.pdf":
            assert page_count(path) == len(ids)
        else:
            assert page_count(path) == 1 and "Facture de contribution" in pdf_text(path)


def test_on_the_shared_server_prints_are_the_groups_and_never_everyones(demo_db, tmp_path):
    """Service mode: the configuration's print folder, ``rwxrws---`` and ``rw-rw----`` whatever the umask."""
    from tuiapp.services.printing import print_folder

    shared = tmp_path / "impressions"
    folder = print_folder(Period(2024, 9), shared)
    assert folder == shared / "factures-2024-09"
    ids = [invoice.id for invoice in queries.invoices_of_period(Period(2024, 9))][:3]
    previous = os.umask(0o022)
    try:
        result = print_invoices(ids, folder, shared=True)
    finally:
        os.umask(previous)
    assert len(result.files) == 3 and result.combined is not None
    assert folder.stat().st_mode & 0o7777 == 0o2770
    assert {path.stat().st_mode & 0o777 for path in [*result.files, result.combined]} == {0o660}
