"""Fuzz of the export reader: every generated file (``tests/import_fuzz_cases.py``, seed 13) gives a
``Table`` or an ``ImportFileError`` with a French message; never another exception."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from tests.import_fuzz_cases import csv_cases, xlsx_cases
from tuiapp.services.import_files import ImportFileError, Table, read_table

SEED = 13
CASES = 500
#: Workbooks cost 20 ms each to write and read: 200 of them here (the importers' fuzz, 500 cases
#: per importer, reads 60 more).
XLSX_CASES = 200


def _outcomes(tmp_path, cases) -> Counter[str]:
    """Read each case; count tables and refusals. Anything else propagates and fails the test."""
    outcomes: Counter[str] = Counter()
    for name, data, suffix in cases:
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        try:
            table = read_table(path)
        except ImportFileError as exc:
            message = str(exc)
            assert message and "Traceback" not in message, name
            outcomes["refused"] += 1
        else:
            assert isinstance(table, Table), name
            assert all(isinstance(cell, str) for row in table.rows for cell in row.cells), name
            assert all(row.line >= 2 for row in table.rows), name
            assert [row.line for row in table.rows] == sorted({row.line for row in table.rows}), name
            outcomes[table.format] += 1
        path.unlink()
    return outcomes


@pytest.mark.parametrize("kind", ["invoices", "residents"])
def test_generated_csv_files_give_a_table_or_a_french_refusal(tmp_path, kind):
    limit = csv.field_size_limit()
    outcomes = _outcomes(tmp_path, csv_cases(CASES, SEED, kind))
    assert sum(outcomes.values()) == CASES
    # The generator is not all garbage: most cases are read, and some are refused.
    assert outcomes["csv"] > CASES * 0.7 and outcomes["refused"] > 20, outcomes
    assert csv.field_size_limit() >= limit


@pytest.mark.long
def test_generated_xlsx_files_give_a_table_or_a_french_refusal(tmp_path):
    outcomes = _outcomes(tmp_path, xlsx_cases(XLSX_CASES, SEED, "invoices"))
    assert sum(outcomes.values()) == XLSX_CASES
    assert outcomes["xlsx"] > XLSX_CASES * 0.5 and outcomes["refused"] > 40, outcomes


def test_the_generators_give_the_same_cases_for_the_same_seed():
    first = [(name, len(data)) for name, data, _ in csv_cases(40, SEED)]
    assert first == [(name, len(data)) for name, data, _ in csv_cases(40, SEED)]
    assert [name for name, _, _ in xlsx_cases(40, SEED)] == [name for name, _, _ in xlsx_cases(40, SEED)]
