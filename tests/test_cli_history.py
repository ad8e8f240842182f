"""``tuiapp history --format csv`` (as a real process, and in the test process: ``tests.cli_runner``):
a file a spreadsheet opens safely, read back with csv."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.cli_runner import run_cli as tuiapp
from tests.raw import write_around
from tuiapp.db.database import db
from tuiapp.db.models import SendRecord
from tuiapp.domain.periods import Period

BOM = b"\xef\xbb\xbf"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def tuiapp_process(*args):
    return subprocess.run([sys.executable, "-m", "tuiapp", *args], capture_output=True, timeout=120)


@pytest.fixture
def hostile_history(make_resident, make_invoice):
    """Two send records whose texts are spreadsheet formulas and terminal codes, one of a credit note."""
    resident = make_resident("=cmd|' /C calc'!A0", "+Jean", email="=cmd@example.org")
    credit = make_invoice(resident, Period(2024, 9), amount="-12.50", number="=1+1", kind="avoir")
    plain = make_invoice(make_resident("MAILLY", "Josiane"), Period(2024, 9), amount="1234.56", number="FH-1")
    SendRecord.create(invoice=credit, recipients="=cmd@example.org", status="failed", attempts=1,
                      last_reply="550 -2+3", operator="@SUM(A1)", error="\tcellule", message_id="+<id@x>")
    SendRecord.create(invoice=plain, recipients="josiane@example.org", status="sent", attempts=1,
                      last_reply="250 OK", operator="marie", refused_recipients="\rCR")
    # what a bad import or a hostile server reply could leave
    write_around("UPDATE send_record SET last_reply = ? WHERE invoice_id = ?",
                 ("550 =HYPERLINK(\"x\") \x1b]52;c;cHduZWQ=\x07 \x1b[2J", credit.id))
    write_around("UPDATE resident SET first_name = ? WHERE id = ?", ("Jo\x1b[31mse\x00", plain.resident_id))
    db.close()
    return {"credit": credit.id, "plain": plain.id}


def read_back(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)  # French Excel reads UTF-8 (the accents) only with it
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_csv_cells_never_run_and_numbers_stay_numbers(hostile_history, db_arg, tmp_path):
    stdout = tuiapp_process("history", "--db", db_arg, "--format", "csv")  # the bytes of a real pipe
    assert stdout.returncode == 0, stdout.stderr.decode()
    data = stdout.stdout

    rows = read_back(data)
    header, *records = rows
    assert header[:5] == ["envoi", "facture", "résident", "montant HT", "destinataires"]
    assert len(records) == 2 and all(len(row) == len(header) for row in records)
    credit, plain = (dict(zip(header, row, strict=True)) for row in records)
    # Numbers stay numbers, in French: a negative amount is not a formula.
    assert credit["envoi"].isdigit() and plain["envoi"].isdigit()
    assert credit["montant HT"] == "-12,50" and plain["montant HT"] == "1234,56"
    assert Decimal(credit["montant HT"].replace(",", ".")) == Decimal("-12.50")
    # Text cells that a spreadsheet would run get a leading quote, and only those.
    assert credit["facture"] == "'=1+1"
    assert credit["résident"].startswith("'=CMD|") and credit["destinataires"] == "'=cmd@example.org"
    assert credit["opérateur"] == "'@SUM(A1)" and credit["message_id"] == "'+<id@x>"
    assert credit["erreur"].startswith("'")
    assert plain["facture"] == "FH-1" and plain["opérateur"] == "marie" and plain["état"] == "envoyée"
    assert plain["erreur"].startswith("'")  # was "\rCR"
    for record in records:
        for name, value in zip(header, record, strict=True):
            if name not in ("envoi", "montant HT"):
                assert not value.startswith(FORMULA_STARTS), (name, value)
    # No control character anywhere in the file: ESC, BEL, NUL come out as U+FFFD.
    text = data.decode("utf-8-sig").replace("\r\n", "")
    assert not any(ord(char) < 32 or 0x7F <= ord(char) < 0xA0 for char in text), text
    assert "\ufffd]52;c;cHduZWQ=\ufffd" in credit["réponse"] and "MAILLY Jo\ufffd[31mse\ufffd" == plain["résident"]

    output = tmp_path / "historique.csv"  # the same file, written whole (atomically) where asked
    written = tuiapp("history", "--db", db_arg, "--format", "csv", "--output", str(output))
    assert written.returncode == 0, written.stderr
    assert "2 envois exportés" in written.stdout
    assert output.read_bytes() == data


def test_csv_output_errors_are_clear(hostile_history, db_arg, tmp_path):
    missing = tuiapp("history", "--db", db_arg, "--format", "csv", "--output", str(tmp_path / "no" / "x.csv"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "dossier introuvable" in missing.stderr
    table = tuiapp("history", "--db", db_arg, "--output", str(tmp_path / "x.csv"))
    assert table.returncode == 2 and "--format csv" in table.stderr
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob(".tuiapp-*"))


def test_export_line_is_singular_for_one_send_and_plural_for_two(make_resident, make_invoice, db_arg, tmp_path):
    resident = make_resident("MAILLY", "Josiane", email="josiane@example.org")
    for count, number in ((1, "FH-1"), (2, "FH-2")):
        SendRecord.create(invoice=make_invoice(resident, Period(2024, 9), number=number),
                          recipients="josiane@example.org", status="sent", attempts=1, operator="marie")
        db.close()
        output = tmp_path / f"historique-{count}.csv"
        written = tuiapp("history", "--db", db_arg, "--format", "csv", "--output", str(output))
        assert written.returncode == 0, written.stderr
        said = {1: "1 envoi exporté dans", 2: "2 envois exportés dans"}[count]
        assert written.stdout.startswith(said) and "(s)" not in written.stdout, written.stdout
