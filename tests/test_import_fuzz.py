"""Fuzz of the importers: the generated exports of ``tests/import_fuzz_cases.py`` (fixed seed),
each read and imported into one real database. Every case ends in an ``ImportResult`` or a
French refusal of the file (``ImportFileError``) or of the mapping (``ImportUsageError``), never
another exception; a refused import or a dry run leaves the database dump as it was (0 partial
writes), and an accepted one imported again changes nothing."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.import_fuzz_cases import csv_cases, xlsx_cases
from tests.import_samples import dump
from tuiapp.db.database import is_postgres
from tuiapp.db.models import Invoice, Resident, SendRecord, Structure
from tuiapp.domain.safe_text import find_control
from tuiapp.services.import_files import ImportFileError, read_table
from tuiapp.services.import_invoices import import_invoices
from tuiapp.services.import_mapping import ImportUsageError, explicit_mapping, guess_mapping
from tuiapp.services.import_residents import import_residents

SEED = 13
CSV_CASES = 500
XLSX_CASES = 60
PLAUSIBLE_CASES = 150
MAILED = datetime(2024, 10, 2, 9, 30, tzinfo=UTC)
LINE_HEADERS = ["N° facture", "N° résident", "Période", "Date facture", "Total HT", "Type", "Libellé", "Qté", "PU",
                "Montant"]


def plausible_cases(count: int, seed: int, kind: str):
    """Files that are mostly right (one cell in a hundred is hostile): the imports that write, and
    their re-import, get exercised too. Invoices with lines, avoirs, totals given or not."""
    from tests.import_fuzz_cases import HEADERS, HOSTILE

    rng = random.Random(seed)
    for index in range(count):
        rows: list[list[str]] = []
        if kind == "residents":
            headers = HEADERS[kind]
            for number in rng.sample(range(1, 80), rng.randrange(1, 15)):
                rows.append([f"R{number:04d}", rng.choice(["FH", "ehpad1", "Foyer les tilleuls", "SAVS"]),
                             rng.choice(["MAILLY", "Éloïse", "N'Guyen"]), rng.choice(["", "Zoé"]),
                             rng.choice(["", f"r{number}@example.org", "R@Example.ORG"]),
                             rng.choice(["", "tuteur@example.org"])])
        else:
            headers = LINE_HEADERS
            for number in rng.sample(range(1, 60), rng.randrange(1, 8)):
                avoir = rng.random() < 0.2
                resident = f"R{rng.randrange(1, 40):04d}"
                lines = [(rng.choice(["Hébergement", "Repas"]), str(rng.randrange(1, 31)),
                          f"{rng.randrange(1, 90)},{rng.randrange(100):02d}") for _ in range(rng.randrange(1, 4))]
                sign = -1 if avoir else 1
                for label, quantity, price in lines:
                    rows.append([f"F-{number:05d}", resident, rng.choice(["09/2024", "2024-09", "septembre 2024"]),
                                 rng.choice(["30/09/2024", "2024-09-30"]), "", "AV" if avoir else "", label,
                                 str(sign * int(quantity)), price, ""])
        for row in rows:
            for column in range(len(row)):
                if rng.random() < 0.01:
                    row[column] = rng.choice(HOSTILE)
        delimiter = rng.choice([";", ",", "\t"])
        text = "\r\n".join(delimiter.join(f'"{cell}"' for cell in row) for row in [headers, *rows]) + "\r\n"
        encoding = rng.choice(["utf-8", "utf-8-sig", "cp1252"])
        yield f"plausible-{index:03d}", text.encode(encoding, errors="replace"), ".csv"


@pytest.fixture
def known(database):
    """The structures and residents the generated files name (a few of them)."""
    with database.atomic():
        structure = Structure.create(code="FH", name="Foyer Les Tilleuls")
        Structure.create(code="EHPAD1", name="Ehpad")
        Structure.create(code="SAVS", name="Service d'accompagnement")
        for index in range(1, 40):
            Resident.create(structure=structure, last_name=f"NOM{index}", external_id=f"R{index:04d}")


def _import(kind: str, path, rng: random.Random):
    table = read_table(path)
    if rng.random() < 0.1:  # now and then a --map, right or wrong
        header = rng.choice(table.headers) if table.headers else "absente"
        mapping = explicit_mapping(table.headers, kind, {header: rng.choice(["-", "number", "last_name", "x"])})
    else:
        mapping = guess_mapping(table.headers, kind)
    dry_run = rng.random() < 0.2
    if kind == "residents":
        return import_residents(table, mapping, dry_run=dry_run), mapping, table
    return import_invoices(table, mapping, dry_run=dry_run, update_mailed=rng.random() < 0.5), mapping, table


def _run(kind: str, cases, tmp_path) -> Counter[str]:
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    for name, data, suffix in cases:
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        before = dump()
        try:
            result, mapping, table = _import(kind, path, rng)
        except (ImportFileError, ImportUsageError) as exc:
            assert str(exc) and find_control(str(exc)) is None, name
            outcomes["file or mapping refused"] += 1
            assert dump() == before, name
            continue
        finally:
            path.unlink()
        for problem in result.problems:
            assert find_control(str(problem)) is None and len(str(problem)) < 2000, name
        if result.refused or result.dry_run:
            assert not result.written and dump() == before, name
            outcomes["refused" if result.refused else "dry run"] += 1
            continue
        outcomes["written" if result.written else "nothing to change"] += 1
        outcomes["(of which rectified)"] += bool(result.mailed_changed)
        again = import_residents(table, mapping) if kind == "residents" else import_invoices(table, mapping)
        assert (again.created, again.updated, again.problems, again.written) == (0, 0, [], False), name
        if kind == "invoices" and result.written:
            _send_some(rng)
    print(kind, dict(outcomes))
    return outcomes


def _total(outcomes: Counter[str]) -> int:
    return sum(count for name, count in outcomes.items() if not name.startswith("("))


def _send_some(rng: random.Random) -> None:
    """Some invoices mailed, one queued: the next files' changes to them are refused, or rectify them."""
    ids = [invoice.id for invoice in Invoice.select(Invoice.id)]
    for invoice_id in rng.sample(ids, min(len(ids), 3)):
        Invoice.update(last_mailed_at=MAILED).where(Invoice.id == invoice_id).execute()
    if rng.random() < 0.3:
        invoice_id = rng.choice(ids)
        if not SendRecord.select().where((SendRecord.invoice == invoice_id) & (SendRecord.status == "queued")).exists():
            SendRecord.create(invoice=invoice_id, recipients="r@example.org", status="queued")


@pytest.mark.long
@pytest.mark.parametrize("kind", ["residents", "invoices"])
def test_generated_csv_files_never_crash_nor_half_write(known, tmp_path, kind):
    # The reading of the files is the same on both engines and the SQLite pass reads all 500; on
    # PostgreSQL the first 125 (each ends in a write, a refusal and a dump on that engine) are
    # enough to see its all-or-nothing: all 500 took 20.7 s of the PostgreSQL pass (2 cores, 4 Dec).
    count = CSV_CASES // 4 if is_postgres() else CSV_CASES
    outcomes = _run(kind, csv_cases(count, SEED, kind), tmp_path)
    assert _total(outcomes) == count
    # Not all garbage: some files are imported, many refused for their cells, some unreadable.
    assert outcomes["refused"] >= count // 5 and outcomes["file or mapping refused"] >= count // 25, outcomes


@pytest.mark.parametrize("kind", ["residents", "invoices"])
def test_mostly_right_files_are_imported_all_or_nothing(known, tmp_path, kind):
    outcomes = _run(kind, plausible_cases(PLAUSIBLE_CASES, SEED, kind), tmp_path)
    assert _total(outcomes) == PLAUSIBLE_CASES
    assert outcomes["written"] >= 20 and outcomes["refused"] >= 20, outcomes


@pytest.mark.parametrize("kind", ["residents", "invoices"])
def test_generated_xlsx_files_never_crash_nor_half_write(known, tmp_path, kind):
    outcomes = _run(kind, xlsx_cases(XLSX_CASES, SEED, kind), tmp_path)
    assert _total(outcomes) == XLSX_CASES
    assert outcomes["refused"] + outcomes["file or mapping refused"] >= XLSX_CASES // 3, outcomes
