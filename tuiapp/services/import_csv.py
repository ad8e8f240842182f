"""Reading a CSV export: its encoding and separator found (or given), its records with the line each starts on.

Encoding: a UTF-8 BOM means ``utf-8-sig``; bytes that are valid UTF-8 are UTF-8;
anything else must be text that charset-normalizer finds plausible as Windows-1252
(``cp1252``), else the file is refused as not text. ``encoding=`` overrides with any
Python text codec. A NUL character is never text: an export with one is refused.

Separator: among ``;``, ``,`` and TAB, the one that splits the header into several
columns and the first records into as many (csv's parser reads the sample, so a
separator inside quotes does not count); ties go to ``;``, the French exports' own.
"""

from __future__ import annotations

import codecs
import csv
import io
from itertools import islice
from pathlib import Path

from tuiapp.domain.safe_text import printable
from tuiapp.services.import_table import ImportFileError, Row, Table, is_blank, named, split_header

MB = 1024 * 1024
# csv refuses cells over 128 KB by default; an export may carry a 1 MB comment. Past 16 MB
# a cell is rather a quote never closed (csv's limit is process-wide: it is only ever raised).
FIELD_LIMIT = 16 * MB
DELIMITERS = (";", "\t", ",")  # in order of preference when the sample cannot tell
_DELIMITER_NAMES = {";": ";", ",": ",", "\t": "\t", "tab": "\t", "\\t": "\t", "tabulation": "\t"}
SAMPLE_CHARS = 64 * 1024
# C0 controls but TAB, LF, CR; and DEL. Random bytes hold 11 % of them, an export none or a few.
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
MAX_CONTROL_PERCENT = 2
FEW_CONTROLS = 16  # however short the file
SAMPLE_RECORDS = 20


def read_csv(path: Path, data: bytes, *, encoding: str | None, delimiter: str | None) -> Table:
    codec, text = decode(path, data, encoding)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportFileError(f"{named(path)} n'est pas un fichier texte (caractère nul ligne {line}) : "
                              "est-ce bien un export CSV ?")
    text = text.removeprefix("\ufeff")  # a BOM read through an explicit codec never reaches the first header
    if not text.strip():
        raise ImportFileError(f"{named(path)} est vide.")
    chosen = delimiter_named(delimiter) if delimiter is not None else detect_delimiter(text)
    headers, rows = split_header(path, _records(path, text, chosen))
    return Table(path, "csv", headers, rows, encoding=codec, delimiter=chosen)


def delimiter_named(value: str) -> str:
    """``;``, ``,``, or TAB for ``tab``/``\\t``/a tab character; anything else refused."""
    chosen = _DELIMITER_NAMES.get(value) or _DELIMITER_NAMES.get(value.strip().lower())
    if chosen is None:
        raise ImportFileError(f"Séparateur « {printable(value)} » non pris en charge : « ; », « , » ou « tab ».")
    return chosen


def decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    """(codec name, text): the given encoding, or the one detected."""
    if encoding is not None:
        return _decode_as(path, data, encoding)
    if data.startswith(codecs.BOM_UTF8):
        return _decode_as(path, data, "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(f"{named(path)} est en UTF-16 : enregistrez-le en UTF-8 (ou précisez l'encodage utf-16).")
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Not UTF-8: Windows-1252 decodes almost any bytes. Binary data is full of control
    # bytes; another encoding read as Windows-1252 is a mess of symbols, which is what
    # charset-normalizer measures (asked about the rest: a few ESC in a cell are the
    # importer's to refuse, not a reason to call the file binary).
    rest = data.translate(None, _CONTROL_BYTES)
    controls = len(data) - len(rest)
    plausible = controls <= FEW_CONTROLS or controls * 100 <= len(data) * MAX_CONTROL_PERCENT
    import charset_normalizer  # only for a file that is not UTF-8

    if plausible and charset_normalizer.from_bytes(rest, cp_isolation=["cp1252"]).best() is not None:
        try:
            return "cp1252", data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    raise ImportFileError(f"{named(path)} n'est pas un fichier texte lisible : ni UTF-8, ni Windows-1252 "
                          "(précisez l'encodage s'il s'agit bien d'un export CSV).")


def _decode_as(path: Path, data: bytes, encoding: str) -> tuple[str, str]:
    try:
        codec = codecs.lookup(encoding).name
    except (LookupError, ValueError):
        raise ImportFileError(f"Encodage « {printable(encoding)} » inconnu (par exemple utf-8 ou cp1252).") from None
    bom = codec in ("utf-8", "utf-8-sig") and data.startswith(codecs.BOM_UTF8)
    skipped = len(codecs.BOM_UTF8) if bom else 0
    try:
        return ("utf-8-sig" if bom else codec), data[skipped:].decode("utf-8" if bom else codec)
    except UnicodeDecodeError as exc:
        start = skipped + exc.start
        line = data.count(b"\n", 0, start) + 1
        what = "en UTF-8 (il commence par sa marque, le BOM)" if bom else f"en {codec}"
        raise ImportFileError(f"{named(path)} ne se lit pas {what} : octet {data[start]:#04x} ligne {line} "
                              "(précisez l'encodage).") from None
    except (LookupError, UnicodeError, ValueError, TypeError):  # base64, rot13...: not a text encoding
        raise ImportFileError(f"Encodage « {printable(encoding)} » inconnu (par exemple utf-8 ou cp1252).") from None


def detect_delimiter(text: str) -> str:
    """The separator that splits the header into most columns and the first records into as many."""
    sample = text[:SAMPLE_CHARS]
    best, best_score = DELIMITERS[0], (0.0, 0)
    for candidate in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=candidate)
        try:
            counts = [len(cells) for cells in islice((c for c in reader if not is_blank(c)), SAMPLE_RECORDS)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        score = (sum(count == counts[0] for count in counts) / len(counts), counts[0])
        if score > best_score:
            best, best_score = candidate, score
    return best


class _NotStrict(Exception):
    """csv's strict mode refused a stray quote: read the file as spreadsheets do."""


def _records(path: Path, text: str, delimiter: str) -> list[Row]:
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    try:
        return _parse(path, text, delimiter, strict=True)
    except _NotStrict:  # "12"x: a quote inside a quoted cell left alone
        return _parse(path, text, delimiter, strict=False)


def _parse(path: Path, text: str, delimiter: str, *, strict: bool) -> list[Row]:
    """The non-blank records, each with the line it starts on (csv's line_num is where it ends)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)
    rows: list[Row] = []
    start = 1
    try:
        for cells in reader:
            if not is_blank(cells):
                rows.append(Row(start, tuple(cells)))
            start = reader.line_num + 1
    except csv.Error as exc:
        message = str(exc)
        if "field larger than field limit" in message:
            raise ImportFileError(f"{named(path)}, ligne {start} : une cellule dépasse {FIELD_LIMIT // MB} Mo "
                                  "(un guillemet jamais fermé ?).") from None
        if "unexpected end of data" in message:
            raise ImportFileError(f"{named(path)}, ligne {start} : un guillemet ouvert n'est jamais fermé.") from None
        if strict:
            raise _NotStrict from None
        raise ImportFileError(f"{named(path)}, ligne {start} : CSV illisible ({printable(message)}).") from None
    return rows
