"""How fast the send-list queries are on a large association (run on demand).

    .venv/bin/python benchmarks/queries_bench.py [--residents 5000] [--periods 60] [--db URL]

Builds a throw-away database of RESIDENTS residents with one invoice per
period each (5,000 x 60 = 300,000 invoices by default), then times the
queries the screens run, and what the send path writes for each message (its
claim, then its outcome). On a throw-away SQLite file, or with ``--db
postgresql://...`` on an empty PostgreSQL base (left filled). Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from tuiapp.db import queries
from tuiapp.db.database import db, open_database, release
from tuiapp.db.models import Invoice, Resident, Structure
from tuiapp.domain.db_target import parse_target
from tuiapp.domain.periods import Period
from tuiapp.sending import outbox


def build(residents: int, periods: int) -> list[Period]:
    rng = random.Random(1)
    structures = [Structure.create(code=f"S{i}", name=f"Structure {i}") for i in range(5)]
    rows = []
    for i in range(residents):
        kind = rng.random()
        rows.append(
            {
                "structure": structures[i % len(structures)].id,
                "last_name": f"NOM{i:05d}",
                "first_name": "Prénom",
                "email": f"r{i}@example.org" if kind < 0.6 else None,
                "guardian_name": "",
                "guardian_email": "tuteur@example.org" if 0.4 < kind < 0.8 else None,
                "active": kind < 0.97,
            }
        )
    with db.atomic():
        for start in range(0, len(rows), 5000):
            Resident.insert_many(rows[start : start + 5000]).execute()
    resident_rows = list(Resident.select(Resident.id, Resident.structure).tuples())
    all_periods = [Period(2020, 1)]
    while len(all_periods) < periods:
        all_periods.append(all_periods[-1].next())
    with db.atomic():
        for period in all_periods:
            Invoice.insert_many(
                [
                    {
                        "resident": resident_id,
                        "structure": structure_id,
                        "period_year": period.year,
                        "period_month": period.month,
                        "number": f"{period}-{resident_id}",
                        "issue_date": date(period.year, period.month, 28),
                        "amount_ht": 150_000 + resident_id,  # cents, as stored
                    }
                    for resident_id, structure_id in resident_rows
                ]
            ).execute()
    db.execute_sql("ANALYZE")
    return all_periods


def timed(label: str, function, repeat: int = 5) -> None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    print(f"{label:<52} {statistics.median(times) * 1000:8.1f} ms  (result: {result})")


def claim_and_complete(period: Period, count: int) -> str:
    """``count`` invoices queued, then each claimed and completed as the engine does around a
    message: the send path's own database cost per message."""
    ids = [invoice.id for invoice in queries.invoices_to_mail(period)][:count]
    records = outbox.queue_invoices(ids, operator="bench").record_ids
    start = time.perf_counter()
    for record_id in records:
        outbox.claim(record_id, operator="bench", message_id=f"<{record_id}@bench.example.org>")
        outbox.complete(record_id, "sent", reply="250 2.0.0 OK")
    return f"{(time.perf_counter() - start) / len(records) * 1000:.2f} ms per message over {len(records)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--periods", type=int, default=60)
    parser.add_argument("--db", help="postgresql://... : an empty PostgreSQL base (else a throw-away SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        target = parse_target(args.db) if args.db else Path(folder) / "bench.db"
        open_database(target)
        print(f"engine: {'PostgreSQL' if args.db else 'SQLite'}")
        start = time.perf_counter()
        periods = build(args.residents, args.periods)
        print(
            f"built {args.residents} residents x {len(periods)} periods = "
            f"{Invoice.select().count()} invoices in {time.perf_counter() - start:.1f} s"
        )
        period = periods[len(periods) // 2]
        structure = Structure.get(Structure.code == "S2")
        timed("invoices_to_mail(period): all rows loaded", lambda: len(list(queries.invoices_to_mail(period))))
        timed("invoices_to_mail(period, structure): all rows", lambda: len(list(queries.invoices_to_mail(period, structure))))
        timed("invoices_without_address(period).count()", lambda: queries.invoices_without_address(period).count())
        timed("period_overview(period)", lambda: queries.period_overview(period).to_mail)
        timed("periods_with_invoices()", lambda: len(queries.periods_with_invoices()))
        timed("last_period_with_invoices()", lambda: str(queries.last_period_with_invoices()))
        print(f"{'claim + complete (the send path, per message)':<52} {claim_and_complete(periods[-1], 300)}")
        release()


if __name__ == "__main__":
    main()
