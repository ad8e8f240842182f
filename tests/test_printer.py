"""Printing to a CUPS printer: "Imprimer" sends toutes.pdf with ``lp -d NAME FILE`` and says
the job number; without a printer it says where the files are; a failure of lp is said in
French, with lp's own words made printable, and the files stay. ``lp`` is a stand-in written
on ``PATH`` by each test: never the machine's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import point_at
from tuiapp import system_config
from tuiapp.app import create_app
from tuiapp.db import queries
from tuiapp.db.database import db
from tuiapp.db.models import Invoice
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.periods import Period
from tuiapp.domain.printer import check_printer_name, job_id
from tuiapp.services.printing import Printer, PrinterError, configured_printer, print_invoices, send_to_printer

SIZE = (80, 24)
SEPTEMBER = Period(2024, 9)

# Records its arguments, one a line; answers like CUPS; fails when the file named by
# $LP_FAIL exists (with a control character in its message), hangs when $LP_HANG exists.
LP = """#!/bin/sh
printf '%s\\n' "$@" > "{record}"
if [ -e "{hang}" ]; then sleep 5; fi
if [ -e "{fail}" ]; then
    printf 'lp: The printer or class does not exist.\\033[2J\\n' >&2
    exit 1
fi
echo "request id is $2-12 (1 file(s))"
"""


class StandInLp:
    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.record, self.fail, self.hang = folder / "args", folder / "fail", folder / "hang"
        script = folder / "lp"
        script.write_text(LP.format(record=self.record, fail=self.fail, hang=self.hang), encoding="utf-8")
        script.chmod(0o755)
        self.folder = folder

    @property
    def args(self) -> list[str]:
        return self.record.read_text(encoding="utf-8").splitlines() if self.record.exists() else []


@pytest.fixture
def lp(tmp_path, monkeypatch) -> StandInLp:
    stand_in = StandInLp(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{stand_in.folder}{os.pathsep}{os.environ['PATH']}")
    return stand_in


def test_cups_answer_gives_the_job():
    assert job_id("request id is Bureau-12 (1 file(s))\n") == "Bureau-12"
    assert job_id("") is None


@pytest.mark.parametrize(("name", "expected"), [
    ("", "indiquez le nom de l'imprimante"),
    ("Bureau 2", "un espace est impossible dans un nom d'imprimante CUPS"),
    ("a/b", "le caractère « / » est impossible"),
    ("-o", "ne commence pas par « - »"),
    ("Bu\x1b[2Jreau", "caractère interdit"),
    ("x" * 128, "127 caractères au plus"),
])
def test_a_printer_name_cups_could_not_have_is_refused_in_french(name, expected):
    with pytest.raises(ValidationError) as refused:
        check_printer_name(name)
    assert expected in str(refused.value)


def test_the_printer_setting_per_site_and_per_user(tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_PRINTER", "Accueil")
    assert configured_printer(None) == Printer("Accueil", 30)
    monkeypatch.setenv("TUIAPP_PRINT_TIMEOUT", "5")
    assert configured_printer(None) == Printer("Accueil", 5)
    monkeypatch.setenv("TUIAPP_PRINT_TIMEOUT", "cinq")
    with pytest.raises(PrinterError, match="TUIAPP_PRINT_TIMEOUT : un nombre de secondes"):
        configured_printer(None)
    monkeypatch.setenv("TUIAPP_PRINTER", "a/b")
    with pytest.raises(PrinterError, match="TUIAPP_PRINTER"):
        configured_printer(None)
    # The server's configuration, in service mode, whatever the environment says.
    path = tmp_path / "tuiapp.toml"
    path.write_text('database = "/srv/a.db"\nprinter = "Bureau"\nprint_timeout = 12\n', encoding="utf-8")
    monkeypatch.setenv("TUIAPP_CONFIG", str(path))
    config = system_config.load()
    assert config is not None and configured_printer(config) == Printer("Bureau", 12)
    path.write_text('database = "/srv/a.db"\n', encoding="utf-8")
    assert configured_printer(system_config.load()) is None
    path.write_text('database = "/srv/a.db"\nprinter = "Bureau#1"\n', encoding="utf-8")
    with pytest.raises(system_config.ConfigError, match="clé « printer » : le caractère « # » est impossible"):
        system_config.load()


def test_lp_gets_the_printer_and_the_file(lp, tmp_path):
    file = tmp_path / "toutes.pdf"
    file.write_bytes(b"%PDF-1.7")
    assert send_to_printer(file, Printer("Bureau")) == "Bureau-12"
    assert lp.args == ["-d", "Bureau", str(file)]


def test_lp_failing_missing_or_silent_is_said_in_french(lp, tmp_path, monkeypatch):
    file = tmp_path / "toutes.pdf"
    lp.fail.touch()
    with pytest.raises(PrinterError) as failed:
        send_to_printer(file, Printer("Bureau"))
    assert str(failed.value) == "lp a échoué (code 1) : lp: The printer or class does not exist.\ufffd[2J"
    lp.fail.unlink()
    lp.hang.touch()
    with pytest.raises(PrinterError, match="lp n'a pas répondu en 0.5 s"):
        send_to_printer(file, Printer("Bureau", 0.5))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(PrinterError, match="la commande lp est introuvable"):
        send_to_printer(file, Printer("Bureau"))


def test_printing_sends_the_combined_file_and_a_failure_keeps_the_files(lp, make_resident, make_invoice, tmp_path):
    invoice = make_invoice(make_resident("MAILLY", "Josiane"), SEPTEMBER, number="FH-202409-001")
    result = print_invoices([invoice.id], tmp_path / "out", printer=Printer("Bureau"))
    assert result.job == "Bureau-12" and result.sent_to_printer
    assert lp.args == ["-d", "Bureau", str(tmp_path / "out" / "toutes.pdf")]
    assert result.summary.startswith("Envoyé à l'imprimante Bureau (travail Bureau-12) : toutes.pdf.")
    lp.fail.touch()
    result = print_invoices([invoice.id], tmp_path / "out", printer=Printer("Bureau"))
    assert not result.sent_to_printer and (tmp_path / "out" / "toutes.pdf").exists()
    assert result.summary.startswith("Impression impossible sur l'imprimante Bureau : lp a échoué (code 1)")
    assert f"dans {tmp_path / 'out'}" in result.summary


@pytest.fixture
def app(demo_db_file, server):
    application = create_app(demo_db_file)
    point_at(server)
    yield application
    db.close()


async def print_september(app, monkeypatch, documents: Path) -> str:
    import tuiapp.services.printing

    monkeypatch.setattr(tuiapp.services.printing, "user_documents_path", lambda: documents)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "minus", "p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        return "\n".join(notification.message for notification in app._notifications)


async def test_imprimer_sends_to_the_printer_and_says_the_job(app, lp, tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_PRINTER", "Bureau")
    shown = await print_september(app, monkeypatch, tmp_path)
    folder = tmp_path / "tuiapp" / "factures-2024-09"
    assert "Envoyé à l'imprimante Bureau (travail Bureau-12) : toutes.pdf." in shown
    assert f"dans {folder}" in shown
    assert lp.args == ["-d", "Bureau", str(folder / "toutes.pdf")]
    count = len(queries.invoices_of_period(SEPTEMBER))
    assert Invoice.select().where(Invoice.period_month == 9, Invoice.last_printed_at.is_null(False)).count() == count


async def test_imprimer_with_lp_failing_says_why_and_where_the_files_are(app, lp, tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_PRINTER", "Bureau")
    lp.fail.touch()
    shown = await print_september(app, monkeypatch, tmp_path)
    folder = tmp_path / "tuiapp" / "factures-2024-09"
    assert ("Impression impossible sur l'imprimante Bureau : lp a échoué (code 1) : "
            "lp: The printer or class does not exist.\ufffd[2J. Les fichiers sont là : ") in shown
    assert f"et un fichier complet (toutes.pdf) dans {folder}" in shown and (folder / "toutes.pdf").exists()


async def test_imprimer_without_a_printer_says_where_the_files_are(app, lp, tmp_path, monkeypatch):
    shown = await print_september(app, monkeypatch, tmp_path)
    folder = tmp_path / "tuiapp" / "factures-2024-09"
    assert f"et un fichier complet (toutes.pdf) dans {folder}." in shown and "imprimante" not in shown
    assert lp.args == []  # lp never called
