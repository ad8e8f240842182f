"""Generated exports for the fuzz tests: valid files with hostile content, and broken files.

``csv_cases`` and ``xlsx_cases`` yield ``(name, data, suffix)``, the same sequence for the
same seed; write ``data`` to a file named with ``suffix`` and import it. The columns are the
billing software's (``kind`` "residents" or "invoices"), the values now plausible, now
hostile: control characters and ESC sequences, formulas, 1 MB cells, BOMs, quoted
separators, line breaks inside cells, NUL bytes, wrong encodings. The broken ones: truncated
or corrupt ZIPs, ZIPs that are no workbook, random bytes, empty files, ZIP bombs (small
here: their sizes are declared, or a few MB of zeros), an XML entity bomb.

The reader's fuzz (``tests/test_import_fuzz_files.py``) and the importers' use them.
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import struct
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

Case = tuple[str, bytes, str]

HEADERS = {
    "residents": ["N° résident", "Structure", "Nom", "Prénom", "Courriel", "Mail tuteur"],
    "invoices": ["N° facture", "N° résident", "Période", "Date facture", "Montant HT", "Désignation"],
}
FORMULAS = ["=cmd|' /C calc'!A0", "=1+1", "+33 6 12", "-2+3", "@SUM(A1:A2)", "=HYPERLINK(\"http://x\")"]
HOSTILE = ["\x1b[2J\x1b[H", "\x1b]0;titre\x07", "\x1b]52;c;cGF5bG9hZA==\x07", "\u202egnp.exe", "a\u2028b",
           "\x07\x08\x7f", "\x9b31m", "\ufeffnom", "\t  ", "«\u00a0»", "Éloïse Œuvre €", "", " ", '"', "'", ";", ","]
# About 1 MB of comment, accents and separators in it: one per case at most, now and then.
MEGABYTE_CELL = ("Séjour d'été ; à revoir, « urgent »\t" * 30_000)[: 1024 * 1024]
NAMES = ["Dupont", "Éloïse", "Œuvre", "Lefèvre", "N'Guyen", "Müller", "Zoé", "Ça"]


def csv_cases(count: int = 500, seed: int = 13, kind: str = "invoices") -> Iterator[Case]:
    rng = random.Random(seed)
    for index in range(count):
        shape = rng.random()
        if shape < 0.05:
            yield _broken_text(rng, index)
        else:
            yield _csv_case(rng, index, kind)


def xlsx_cases(count: int = 500, seed: int = 13, kind: str = "invoices") -> Iterator[Case]:
    rng = random.Random(seed)
    bases = [_workbook(rng, kind, rows=rng.randrange(1, 30)) for _ in range(6)]
    broken: list[Callable[[random.Random, list[bytes]], tuple[str, bytes]]] = [
        _truncated, _flipped, _not_a_workbook, _random_pk, _declared_bomb, _ratio_bomb, _encrypted_flag,
        _entity_bomb, _raw_control_xml, _ole, _empty, _text_named_xlsx, _wide_row]
    for index in range(count):
        shape = rng.random()
        if shape < 0.55:
            name, data = "valid", _workbook(rng, kind, rows=rng.choice((0, 1, 3, 10, 40)))
        elif shape < 0.65:
            name, data = "base", rng.choice(bases)
        else:
            name, data = rng.choice(broken)(rng, bases)
        suffix = ".csv" if rng.random() < 0.05 else ".xlsx"  # the content decides, not the name
        yield f"xlsx-{index:03d}-{name}", data, suffix


# -- values ------------------------------------------------------------------------------------

def _value(rng: random.Random, column: int, kind: str, row: int) -> object:
    """A plausible value for the column, or now and then a hostile one."""
    draw = rng.random()
    if draw < 0.08:
        return rng.choice(HOSTILE)
    if draw < 0.12:
        return rng.choice(FORMULAS)
    if draw < 0.13:
        return "long " * 200
    header = HEADERS[kind][column]
    if header == "N° résident":
        return f"R{rng.randrange(1, 40):04d}"
    if header == "N° facture":
        return f"F-{rng.randrange(1, 60):05d}"
    if header in ("Nom", "Prénom"):
        return rng.choice(NAMES)
    if header in ("Courriel", "Mail tuteur"):
        return f"{rng.choice(NAMES).lower()}{row}@example.org"
    if header == "Structure":
        return rng.choice(["EHPAD1", "Foyer Les Tilleuls", "SAVS", ""])
    if header == "Période":
        return rng.choice(["2024-09", "09/2024", "septembre 2024", "Sept. 2024", "13/2024"])
    if header == "Date facture":
        return rng.choice(["28/09/2024", "2024-09-28", "31/02/2024", date(2024, 9, 28), datetime(2024, 9, 1, 8)])
    if header == "Montant HT":
        return rng.choice(["1 234,56", "1234.56", "1.234,56", "1 234,56 €", "-12,50", "12,345", 1234.56,
                           Decimal("12.10"), 12, 0.1 + 0.2, -0.0, True])
    return rng.choice(["Hébergement", "Repas", "Ligne; avec séparateur", "Ligne\navec retour", 'Dit "ça"'])


# -- CSV -------------------------------------------------------------------------------------

def _csv_case(rng: random.Random, index: int, kind: str) -> Case:
    delimiter = rng.choice([";", ",", "\t"])
    encoding = rng.choice(["utf-8", "utf-8-sig", "cp1252"])
    newline = rng.choice(["\n", "\r\n", "\r\n", "\r"])
    rows = rng.choice((0, 1, 2, 5, 20, 50, 300 if rng.random() < 0.2 else 10))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline,
                        quoting=rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    writer.writerow(HEADERS[kind])
    for row in range(rows):
        writer.writerow([str(_value(rng, column, kind, row)) for column in range(len(HEADERS[kind]))])
        if row == 0 and rng.random() < 0.05:
            writer.writerow(["R0001", MEGABYTE_CELL])
        if rng.random() < 0.05:
            out.write(newline)  # a blank line
    text = out.getvalue()
    tags = [f"csv-{index:03d}", {";": "semicolon", ",": "comma", "\t": "tab"}[delimiter], encoding]
    twist = rng.random()
    if twist < 0.04:
        position = rng.randrange(len(text) + 1)
        text = text[:position] + delimiter + '"' + text[position:]  # a quote opened (most often never closed)
        tags.append("open-quote")
    elif twist < 0.08:
        position = rng.randrange(len(text) + 1)
        text = text[:position] + "\x00" + text[position:]
        tags.append("nul")
    data = text.encode(encoding.replace("-sig", ""), errors="replace") if encoding == "cp1252" else \
        text.encode(encoding)
    if twist >= 0.08 and twist < 0.14:
        tags.append("wrong-encoding")
        data = rng.choice([text.encode("utf-16"), text.encode("mac_roman", errors="replace"),
                           data + b"\x81\x8d\x90", codecs.BOM_UTF8 + text.encode("cp1252", errors="replace")])
    return "-".join(tags), data, ".csv"


def _broken_text(rng: random.Random, index: int) -> Case:
    choice = rng.randrange(5)
    data = [b"", b"\xef\xbb\xbf", b"\n\r\n  \n", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))),
            b";;;\n,,,\n\t\t\n"][choice]
    return f"csv-{index:03d}-broken{choice}", data, ".csv"


# -- XLSX ------------------------------------------------------------------------------------

def _workbook(rng: random.Random, kind: str, rows: int) -> bytes:
    """A workbook written by openpyxl: typed cells (dates, decimals, ints), empty cells, a second sheet."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = rng.choice(["Feuil1", "Factures", "Export ; 2024"])
    sheet.append(HEADERS[kind])
    for row in range(rows):
        values = [_value(rng, column, kind, row) for column in range(len(HEADERS[kind]))]
        if rng.random() < 0.1:
            values = [None] * len(values)  # an empty row
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values])
        if row == 0 and rng.random() < 0.03:
            sheet.append(["R0001", MEGABYTE_CELL])
    if rng.random() < 0.3:
        workbook.create_sheet("Autre").append(["autre", 1])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _patch_central(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Write ``value`` at ``offset`` of every central directory entry (a forged ZIP)."""
    patched = bytearray(data)
    start = patched.find(b"PK\x01\x02")
    while start != -1:
        struct.pack_into(fmt, patched, start + offset, value)
        start = patched.find(b"PK\x01\x02", start + 4)
    return bytes(patched)


def _sheet_xml(body: str, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>').encode()


def _with_sheet(base: bytes, sheet: bytes) -> bytes:
    """The base workbook with its first sheet's XML replaced."""
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["xl/worksheets/sheet1.xml"] = sheet
    return _zip(members)


def _truncated(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    base = rng.choice(bases)
    return "truncated", base[: rng.randrange(4, len(base))]


def _flipped(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    data = bytearray(rng.choice(bases))
    for _ in range(rng.randrange(1, 8)):
        data[rng.randrange(4, len(data))] = rng.randrange(256)
    return "flipped", bytes(data)


def _not_a_workbook(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    members = rng.choice([{"readme.txt": b"bonjour"}, {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                                                        "content.xml": b"<x/>"},
                          {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"},
                          {"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\x00"},
                          {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<not-a-workbook/>"}, {}])
    return "not-a-workbook", _zip(members)


def _random_pk(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    return "random-pk", b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 2000)))


def _declared_bomb(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    # Central directory entry: uncompressed size at offset 24 (4 bytes).
    return "declared-bomb", _patch_central(rng.choice(bases), 24, "<I", 400 * 1024 * 1024)


_RATIO_BOMB: list[bytes] = []


def _ratio_bomb(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    if not _RATIO_BOMB:  # 12 MB of zeros deflate to 12 KB (1000:1): made once
        with zipfile.ZipFile(io.BytesIO(bases[0])) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        members["xl/worksheets/sheet1.xml"] = b" " * (12 * 1024 * 1024)
        _RATIO_BOMB.append(_zip(members))
    return "ratio-bomb", _RATIO_BOMB[0]


def _encrypted_flag(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    return "encrypted", _patch_central(rng.choice(bases), 8, "<H", 0x1)  # general purpose flags


def _entity_bomb(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    entities = '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    laughs = rng.random() < 0.25  # expat stops it past 8 MB of expansion: 0.25 s each, so not every time
    prolog = (f"<!DOCTYPE worksheet [{entities}]>" if laughs
              else '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    body = '<row r="1"><c r="A1" t="inlineStr"><is><t>' + ("&a9;" if laughs else "&x;") + "</t></is></c></row>"
    return "entity-bomb", _with_sheet(rng.choice(bases), _sheet_xml(body, prolog))


def _raw_control_xml(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    text = rng.choice(["\x1b[2J", "\x00", "a\x07b", "_x001B_[31m", "ok"])
    body = (f'<row r="1"><c r="A1" t="inlineStr"><is><t>{text}</t></is></c></row>'
            f'<row r="{rng.randrange(2, 2000)}"><c r="B2"><v>{rng.choice(["1e400", "12", "x", "NaN"])}</v></c></row>')
    return "raw-control-xml", _with_sheet(rng.choice(bases), _sheet_xml(body))


def _ole(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    return "ole", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(rng.randrange(256) for _ in range(512))


def _empty(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    return "empty", b""


def _text_named_xlsx(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    return "text", "N° facture;Montant HT\nF-1;12,00\n".encode()


def _wide_row(rng: random.Random, bases: list[bytes]) -> tuple[str, bytes]:
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="XFD{r}"><v>1</v></c></row>' for r in range(1, 20))
    return "wide-row", _with_sheet(rng.choice(bases), _sheet_xml(body))
