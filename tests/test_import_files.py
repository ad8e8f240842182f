"""Reading the billing software's exports: every supported form of CSV and XLSX, made here,
read into a Table of text cells with their line numbers; every refusal said in French."""

from __future__ import annotations

import csv
import io
import os
import random
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from tests.import_fuzz_cases import _patch_central
from tuiapp.services import import_files, import_xlsx
from tuiapp.services.import_files import ImportFileError, read_table
from tuiapp.services.import_report import Problem, write_report
from tuiapp.services.import_xlsx import decimal_text

HEADERS = ["N° facture", "Nom", "Montant HT"]
ROWS = [["F-1", "Éloïse Œuvre €", "1 234,56"], ["F-2", "Zoé", "12"]]


def _csv_text(delimiter: str, rows=ROWS, headers=HEADERS, newline="\r\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows([headers, *rows])
    return out.getvalue()


def _write(tmp_path, data: bytes, name="export.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refusal(path, **options) -> str:
    with pytest.raises(ImportFileError) as caught:
        read_table(path, **options)
    return str(caught.value)


# -- CSV ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_each_separator_and_encoding_is_found(tmp_path, delimiter, encoding):
    path = _write(tmp_path, _csv_text(delimiter).encode(encoding))
    table = read_table(path)
    assert (table.format, table.encoding, table.delimiter) == ("csv", encoding, delimiter)
    assert table.headers == tuple(HEADERS)  # the BOM never reaches the first header
    assert [(row.line, row.cells) for row in table.rows] == [(2, tuple(ROWS[0])), (3, tuple(ROWS[1]))]
    assert table.cell(table.rows[0], 2) == "1 234,56" and table.cell(table.rows[0], 9) == ""


def test_separators_inside_quotes_do_not_count(tmp_path):
    rows = [[f"F-{n}", "Dupont; Jean; Paul", "1;2;3"] for n in range(5)]
    table = read_table(_write(tmp_path, _csv_text(",", rows, ["N° facture", "Nom; prénom", "Détail"]).encode()))
    assert table.delimiter == ","
    assert table.headers == ("N° facture", "Nom; prénom", "Détail")
    assert table.rows[0].cells == ("F-0", "Dupont; Jean; Paul", "1;2;3")


def test_a_tab_file_with_commas_in_its_amounts_is_read_by_tab(tmp_path):
    table = read_table(_write(tmp_path, b"Nom\tMontant HT\nDupont\t1,5\nMartin\t2,25\n"))
    assert table.delimiter == "\t" and table.rows[1].cells == ("Martin", "2,25")


def test_a_record_starts_where_its_line_starts_even_after_line_breaks_inside_cells(tmp_path):
    text = ('N° facture;Désignation;Montant\r\n'
            'F-1;"Hébergement\r\nrepas\r\nlinge";10\r\n'
            '\r\n'
            'F-2;"un ; deux";20\r\n'
            'F-3;"Dit ""ça""\nfin";30\n'
            'F-4;x;40')
    table = read_table(_write(tmp_path, text.encode()))
    assert [(row.line, row.cells[0]) for row in table.rows] == [(2, "F-1"), (6, "F-2"), (7, "F-3"), (9, "F-4")]
    assert table.rows[0].cells[1] == "Hébergement\r\nrepas\r\nlinge"
    assert table.rows[2].cells[1] == 'Dit "ça"\nfin'


def test_blank_rows_are_left_out_with_their_line_numbers_kept(tmp_path):
    table = read_table(_write(tmp_path, b"\n\na;b\n\n;\n 1;2\n  \n3;4\n"))
    assert table.headers == ("a", "b")
    assert [(row.line, row.cells) for row in table.rows] == [(6, (" 1", "2")), (8, ("3", "4"))]


def test_header_only_is_a_table_without_rows_and_headers_may_repeat_or_be_blank(tmp_path):
    table = read_table(_write(tmp_path, b"Nom;;Nom;\n"))
    assert table.headers == ("Nom", "", "Nom", "") and table.rows == []


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n \r\n\t\n", b";;\n;\n"])
def test_an_empty_file_is_refused(tmp_path, data):
    assert _refusal(_write(tmp_path, data)).endswith("est vide.")


def test_a_one_megabyte_cell_is_read_whole(tmp_path):
    big = "é;\n" * 350_000
    table = read_table(_write(tmp_path, f'Nom;Commentaire\nDupont;"{big}"\nMartin;court\n'.encode()))
    assert table.rows[0].cells[1] == big and len(big.encode()) > 1_000_000
    assert [row.line for row in table.rows] == [2, 350_003]


def test_a_cell_over_the_limit_or_a_quote_never_closed_is_refused(tmp_path):
    huge = _write(tmp_path, b'Nom;Commentaire\nDupont;"' + b"x" * (17 * 1024 * 1024) + b'"\n')
    assert "ligne 2 : une cellule dépasse 16 Mo" in _refusal(huge)
    unclosed = _write(tmp_path, b'Nom;Montant\nDupont;12\nMartin;"12\nDurand;13\n', "b.csv")
    assert "ligne 3 : un guillemet ouvert n'est jamais fermé" in _refusal(unclosed)


def test_a_stray_quote_inside_a_quoted_cell_is_read_as_spreadsheets_do(tmp_path):
    table = read_table(_write(tmp_path, b'Nom;Taille\n"Ecran "24" pouces";1\n'))
    assert table.rows[0].cells == ('Ecran 24" pouces"', "1")


def test_nul_bytes_binary_data_and_utf16_are_not_text(tmp_path):
    nul = _write(tmp_path, b"Nom;Montant\nDupont\x00;12\n")
    assert "n'est pas un fichier texte (caractère nul ligne 2)" in _refusal(nul)
    rng = random.Random(13)
    noise = _write(tmp_path, bytes(rng.randrange(1, 256) for _ in range(4000)), "noise.csv")
    assert "n'est pas un fichier texte lisible : ni UTF-8, ni Windows-1252" in _refusal(noise)
    utf16 = _write(tmp_path, "Nom;Montant\nDupont;12\n".encode("utf-16"), "u16.csv")
    assert "est en UTF-16" in _refusal(utf16)
    assert read_table(utf16, encoding="utf-16").rows[0].cells == ("Dupont", "12")


def test_a_few_control_characters_do_not_make_a_windows_1252_file_binary(tmp_path):
    path = _write(tmp_path, "Nom;Prénom\nDupont\x1b[2J;Éloïse\x07\nMartin;Zoé\n".encode("cp1252"))
    table = read_table(path)
    assert table.encoding == "cp1252" and table.rows[0].cells == ("Dupont\x1b[2J", "Éloïse\x07")


def test_the_encoding_can_be_given(tmp_path):
    cp1252 = _write(tmp_path, _csv_text(";").encode("cp1252"))
    assert read_table(cp1252, encoding="windows-1252").encoding == "cp1252"
    latin = read_table(cp1252, encoding="latin-1")
    assert latin.encoding == "iso8859-1" and latin.rows[0].cells[1] == "Éloïse \x8cuvre \x80"
    assert "ne se lit pas en utf-8 : octet 0xb0 ligne 1 (précisez l'encodage)." in _refusal(cp1252, encoding="utf-8")
    bom = _write(tmp_path, _csv_text(";").encode("utf-8-sig"), "bom.csv")
    table = read_table(bom, encoding="UTF8")
    assert table.encoding == "utf-8-sig" and table.headers[0] == "N° facture"
    for name in ("klingon", "base64", "rot13", ""):
        assert f"Encodage « {name} » inconnu" in _refusal(cp1252, encoding=name)


def test_a_bom_before_bytes_that_are_not_utf8_is_refused(tmp_path):
    path = _write(tmp_path, b"\xef\xbb\xbf" + "Nom\nÉloïse\n".encode("cp1252"))
    assert "ne se lit pas en UTF-8 (il commence par sa marque, le BOM) : octet 0xc9 ligne 2" in _refusal(path)


@pytest.mark.parametrize(("given", "chosen"), [("tab", "\t"), ("TAB", "\t"), ("\\t", "\t"), ("\t", "\t"),
                                               (";", ";"), (",", ",")])
def test_the_separator_can_be_given(tmp_path, given, chosen):
    table = read_table(_write(tmp_path, b"a;b,c\td\n1;2,3\t4\n"), delimiter=given)
    assert table.delimiter == chosen
    assert table.headers == tuple("a;b,c\td".split(chosen))


@pytest.mark.parametrize("given", ["|", "", ";;", "point-virgule"])
def test_another_separator_is_refused(tmp_path, given):
    path = _write(tmp_path, b"a;b\n1;2\n")
    assert f"Séparateur « {given} » non pris en charge" in _refusal(path, delimiter=given)


def test_files_that_cannot_be_read_are_refused(tmp_path):
    assert "ne peut pas être lu (No such file or directory)" in _refusal(tmp_path / "absent.csv")
    assert "est un dossier, pas un fichier" in _refusal(tmp_path)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    assert "n'est pas un fichier ordinaire" in _refusal(fifo)
    big = tmp_path / "big.csv"
    with big.open("wb") as out:  # sparse: 201 MB on paper, nothing on disk
        out.truncate(import_files.MAX_FILE_SIZE + 1024 * 1024)
    assert "fait 201 Mo : 200 Mo au plus" in _refusal(big)


# -- XLSX --------------------------------------------------------------------------------------

def _workbook_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    invoices = workbook.active
    invoices.title = "Factures"
    invoices.append(["N° facture", "Date facture", "Montant HT", "Quantité", "Payée", "Note", None])
    invoices.append(["F-1", datetime(2024, 9, 28, 14, 30), 1234.56, 3, True, None, None])
    invoices.append([])
    invoices.append(["F-2", date(2024, 9, 1), 12.0, -2, False, "=cmd|' /C calc'!A0", ""])
    invoices.append([None, None, None])
    invoices.append(["F-3", "28/09/2024", Decimal("12.10"), 0.1, None, "Éloïse Œuvre €"])
    invoices["B6"] = "=B2+1"  # a formula with no cached value: openpyxl writes none
    invoices["F4"].data_type = "s"  # text that looks like a formula stays text
    residents = workbook.create_sheet("Résidents")
    residents.append(["N° résident", "Nom"])
    residents.append(["R0001", "Dupont"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_workbook_gives_its_first_sheet_as_text(tmp_path):
    table = read_table(_write(tmp_path, _workbook_bytes(), "export.xlsx"))
    assert (table.format, table.sheet, table.encoding, table.delimiter) == ("xlsx", "Factures", None, None)
    assert table.headers == ("N° facture", "Date facture", "Montant HT", "Quantité", "Payée", "Note")
    assert [(row.line, row.cells) for row in table.rows] == [
        (2, ("F-1", "2024-09-28", "1234.56", "3", "VRAI")),
        (4, ("F-2", "2024-09-01", "12", "-2", "FAUX", "=cmd|' /C calc'!A0")),
        (6, ("F-3", "", "12.1", "0.1", "", "Éloïse Œuvre €")),
    ]


def test_a_sheet_is_chosen_by_its_name(tmp_path):
    path = _write(tmp_path, _workbook_bytes(), "export.xlsx")
    for name in ("Résidents", "résidents"):
        table = read_table(path, sheet=name)
        assert table.sheet == "Résidents" and table.rows == [import_files.Row(2, ("R0001", "Dupont"))]
    assert "n'a pas de feuille « Tarifs » ; ses feuilles : « Factures », « Résidents »." in _refusal(
        path, sheet="Tarifs")


def test_the_content_decides_the_format_not_the_name(tmp_path):
    assert read_table(_write(tmp_path, _workbook_bytes(), "export.csv")).format == "xlsx"
    text = _write(tmp_path, b"a;b\n1;2\n", "export.xlsx")
    assert "n'est pas un classeur .xlsx (son contenu n'est pas une archive XLSX)" in _refusal(text)


def test_a_wrong_dimension_does_not_cut_columns_off(tmp_path):
    members = _members(_workbook_bytes())
    sheet, replaced = re.subn(r'<dimension ref="A1:G6" ?/>', '<dimension ref="A1:A1"/>',
                              members["xl/worksheets/sheet1.xml"].decode())
    assert replaced == 1
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    table = read_table(_write(tmp_path, _zip(members), "export.xlsx"))
    assert len(table.headers) == 6 and [row.line for row in table.rows] == [2, 4, 6]


def test_header_only_and_empty_workbooks(tmp_path):
    workbook = openpyxl.Workbook()
    out = io.BytesIO()
    workbook.save(out)
    assert _refusal(_write(tmp_path, out.getvalue(), "empty.xlsx")).endswith("est vide.")
    workbook.active.append(["Nom", None, "Nom"])
    out = io.BytesIO()
    workbook.save(out)
    table = read_table(_write(tmp_path, out.getvalue(), "header.xlsx"))
    assert table.headers == ("Nom", "", "Nom") and table.rows == []


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_archives_that_are_no_workbook_are_refused(tmp_path):
    def refusal(data: bytes) -> str:
        return _refusal(_write(tmp_path, data, "export.xlsx"))

    assert "est une archive ZIP, pas un classeur XLSX" in refusal(_zip({"lisez-moi.txt": b"bonjour"}))
    assert "est un document OpenDocument" in refusal(_zip({"mimetype": b"x", "content.xml": b"<x/>"}))
    workbook = _workbook_bytes()
    assert "est une archive ZIP abîmée ou tronquée (BadZipFile)" in refusal(workbook[: len(workbook) // 2])
    members = _members(workbook)
    members["xl/worksheets/sheet1.xml"] = b"<worksheet><sheetData><row>"
    assert "fichier XLSX illisible (ParseError)" in refusal(_zip(members))
    old = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500)
    assert "est un classeur Excel ancien (.xls) ou protégé par un mot de passe" in refusal(old)
    assert "est une archive chiffrée" in refusal(_patch_central(workbook, 8, "<H", 0x1))


def test_zip_bombs_are_refused_before_openpyxl_inflates_them(tmp_path):
    members = _members(_workbook_bytes())
    members["xl/worksheets/sheet1.xml"] = b" " * (11 * 1024 * 1024)  # 11 MB deflate to 11 KB
    ratio = _write(tmp_path, _zip(members), "ratio.xlsx")
    assert re.search(r"« xl/worksheets/sheet1\.xml » se décompresserait \d{3,} fois \(au plus 200 fois\) : "
                     r"refusé \(bombe ZIP \?\)", _refusal(ratio))
    declared = _write(tmp_path, _patch_central(_workbook_bytes(), 24, "<I", 40 * 1024 * 1024), "total.xlsx")  # 10 members
    assert "se décompresserait en 400 Mo (au plus 300 Mo) : refusé (bombe ZIP ?)" in _refusal(declared)


@pytest.mark.parametrize(("value", "text"), [
    (1234.56, "1234.56"), (12.0, "12"), (0.3, "0.3"), (1e20, "100000000000000000000"), (1e-7, "0.0000001"),
    (-0.0, "0"), (-12.5, "-12.5"), (Decimal("12.10"), "12.1"), (float("inf"), "inf"),
    (0.1 + 0.2, "0.3"), (1752.0000000000002, "1752"), (30 * 58.4, "1752"), (29.225, "29.225")])
def test_numbers_become_plain_decimal_text(value, text):
    assert decimal_text(value) == text


# -- the report ----------------------------------------------------------------------------------

def test_the_report_never_hands_a_formula_to_a_spreadsheet(tmp_path):
    values = ["=cmd|' /C calc'!A0", "+33 6 12", "-12,50", "@SUM(A1)", "\t=1", "Dupont", "1 234,56", ""]
    problems = [Problem(n + 2, "=Montant" if n == 0 else "Montant HT", value, "montant illisible")
                for n, value in enumerate(values)]
    report = tmp_path / "rapport.csv"
    write_report(report, problems)
    rows = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0] == ["ligne", "colonne", "valeur", "raison"]
    assert [row[2] for row in rows[1:]] == ["'=cmd|' /C calc'!A0", "'+33 6 12", "'-12,50", "'@SUM(A1)",
                                            "'\ufffd=1", "Dupont", "1 234,56", ""]
    assert rows[1][:2] == ["2", "'=Montant"] and rows[2][1] == "Montant HT"


def test_an_entity_bomb_or_too_many_cells_are_refused(tmp_path, monkeypatch):
    members = _members(_workbook_bytes())
    entities = '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    members["xl/worksheets/sheet1.xml"] = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]><worksheet xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a9;</t></is></c></row>'
        "</sheetData></worksheet>").encode()
    assert "fichier XLSX illisible (ParseError)" in _refusal(_write(tmp_path, _zip(members), "laughs.xlsx"))
    monkeypatch.setattr(import_xlsx, "MAX_CELLS", 20)
    assert re.search(r"plus de 20 cellules à lire \(ligne \d\) : refusé", _refusal(
        _write(tmp_path, _workbook_bytes(), "export.xlsx")))
