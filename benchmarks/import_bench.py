"""How fast the billing software's exports import (run on demand; asserts nothing).

    .venv/bin/python benchmarks/import_bench.py [--invoices 10000] [--lines 3]

Writes INVOICES invoices of LINES lines each (one row per line) as CSV and as XLSX (openpyxl,
write-only), then imports each into a fresh database that already has their residents, and
imports it again (nothing to change). Prints seconds (reading the file included) and the
peak of Python's memory (tracemalloc, which slows the run down: the times are taken in a
first pass without it), and the process's peak resident size at the end. Goals (issue 13):
CSV <= 5 s, XLSX <= 15 s.

Last runs on the 2-core machine (3 December 2026, 10,000 x 3 = 30,000 rows, others working on it):
    CSV : import 2.0 to 2.4 s, re-import (nothing to change) 1.5 to 2.4 s, every invoice changed 2.8 s
    XLSX: import 6.6 to 10.1 s, re-import 6.5 to 8.5 s (openpyxl's read-only parsing is most of it)
    (the spread is the machine's load: other helpers' tests ran at the same time)
    tracemalloc peak 200 MiB for both: the reader's ``read(MAX_FILE_SIZE + 1)`` reserves its
    200 MB buffer up front (untouched pages: the resident size stays far lower, see below);
    the import itself, the table read, peaks at 28 MiB.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from tuiapp.db.database import db, open_database
from tuiapp.db.models import Invoice, InvoiceLine, Resident, Structure
from tuiapp.services.import_files import ImportFileError, read_table
from tuiapp.services.import_invoices import import_invoices
from tuiapp.services.import_mapping import guess_mapping

HEADERS = ("N° facture", "N° résident", "Période", "Date facture", "Montant HT", "Libellé", "Quantité",
           "Prix unitaire", "Montant ligne")
RESIDENTS = 1000


def rows(invoices: int, lines: int) -> list[list[str]]:
    result = []
    for number in range(invoices):
        period = (2024 + number // (RESIDENTS * 12), number // RESIDENTS % 12 + 1)
        resident = f"R{number % RESIDENTS:05d}"
        items = [(f"Hébergement {k + 1}", 30 - k, f"{33 + k},{number % 100:02d}") for k in range(lines)]
        amounts = [quantity * int(price.replace(",", "")) for _, quantity, price in items]
        total = sum(amounts)
        for (label, quantity, price), amount in zip(items, amounts, strict=True):
            result.append([f"F{number:06d}", resident, f"{period[1]:02d}/{period[0]}",
                           f"28/{period[1]:02d}/{period[0]}", f"{total // 100} {total % 100:02d}".replace(" ", ",", 1),
                           label, str(quantity), price, f"{amount // 100},{amount % 100:02d}"])
    return result


def write_csv(path: Path, data: list[list[str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADERS)
        writer.writerows(data)
    return path


def write_files(folder: Path, data: list[list[str]]) -> tuple[Path, Path]:
    from openpyxl import Workbook

    csv_path = write_csv(folder / "factures.csv", data)
    xlsx_path = folder / "factures.xlsx"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Factures")
    sheet.append(list(HEADERS))
    for row in data:
        sheet.append(row)
    book.save(xlsx_path)
    return csv_path, xlsx_path


def fresh_database(path: Path) -> None:
    open_database(path)
    structure = Structure.create(code="FH", name="Foyer")
    with db.atomic():
        Resident.insert_many([{"structure": structure.id, "last_name": f"NOM{i}", "external_id": f"R{i:05d}"}
                              for i in range(RESIDENTS)]).execute()


def import_once(path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    table = read_table(path)
    result = import_invoices(table, guess_mapping(table.headers, "invoices"))
    seconds = time.perf_counter() - start
    summary = f"{result.created} créées, {result.updated} modifiées, {result.unchanged} inchangées, " \
              f"{len(result.problems)} problèmes"
    return seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        data = rows(args.invoices, args.lines)
        csv_path, xlsx_path = write_files(Path(folder), data)
        print(f"{args.invoices} factures x {args.lines} lignes écrites en {time.perf_counter() - start:.1f} s "
              f"(CSV {csv_path.stat().st_size // 1024} Kio, XLSX {xlsx_path.stat().st_size // 1024} Kio)")
        for label, path, goal in (("CSV", csv_path, 5), ("XLSX", xlsx_path, 15)):
            for traced in (False, True):
                fresh_database(Path(folder) / f"{label}-{traced}.db")
                if traced:
                    tracemalloc.start()
                try:
                    first, summary = import_once(path)
                    again, summary_again = import_once(path)
                except ImportFileError as exc:
                    print(f"{label} : illisible ({exc})")
                    break
                finally:
                    peak = tracemalloc.get_traced_memory()[1] if traced else 0
                    tracemalloc.stop()
                    counts = (Invoice.select().count(), InvoiceLine.select().count())
                    db.close()
                if traced:
                    print(f"{label} : mémoire Python au plus {peak / 2**20:.0f} Mio (tracemalloc)")
                else:
                    verdict = "objectif tenu" if first <= goal else f"objectif manqué de {first - goal:.1f} s"
                    print(f"{label} : import {first:.2f} s ({summary}) ; {verdict} (<= {goal} s)")
                    print(f"{label} : réimport {again:.2f} s ({summary_again}) ; base : {counts[0]} factures, "
                          f"{counts[1]} lignes")
                    if label == "CSV":  # every invoice's unit prices changed: updates, lines replaced
                        open_database(Path(folder) / f"{label}-{traced}.db")
                        changed = write_csv(Path(folder) / "changees.csv",
                                            [[*row[:4], "", *row[5:7], "99,00", ""] for row in data])
                        seconds, summary = import_once(changed)
                        db.close()
                        print(f"CSV : toutes modifiées {seconds:.2f} s ({summary})")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Taille résidente du processus au plus : {peak_rss:.0f} Mio (fichiers écrits compris)")


if __name__ == "__main__":
    main()
