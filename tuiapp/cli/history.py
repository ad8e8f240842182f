"""``tuiapp history``: the send records, as a table or as CSV."""

from __future__ import annotations

import argparse
import csv
import sys

from tuiapp.cli.common import EXIT_OK, add_db_option, open_existing, say
from tuiapp.core.formatting import format_timestamp
from tuiapp.core.periods import Period

COLUMNS = (
    "envoi", "facture", "résident", "destinataires", "état", "créé", "début", "fin",
    "message_id", "réponse", "opérateur", "erreur",
)


def register(commands) -> None:
    history = commands.add_parser("history", help="historique des envois")
    add_db_option(history)
    history.add_argument("--period", metavar="AAAA-MM", help="seulement cette période")
    history.add_argument("--format", choices=("table", "csv"), default="table")
    history.set_defaults(func=show_history)


def _rows(period: Period | None):
    from tuiapp.core.wording import STATUS_LABELS
    from tuiapp.db.models import Invoice, Resident, SendRecord

    query = (
        SendRecord.select(SendRecord, Invoice, Resident)
        .join(Invoice)
        .join(Resident)
        .order_by(SendRecord.created_at, SendRecord.id)
    )
    if period is not None:
        query = query.where((Invoice.period_year == period.year) & (Invoice.period_month == period.month))
    for record in query:
        yield (
            str(record.id),
            record.invoice.number,
            record.invoice.resident.display_name,
            record.recipients,
            STATUS_LABELS.get(record.status, record.status),
            format_timestamp(record.created_at),
            format_timestamp(record.started_at),
            format_timestamp(record.finished_at),
            record.message_id or "",
            " ".join((record.last_reply or "").split()),
            record.operator,
            " ".join(filter(None, (record.error, record.refused_recipients))),
        )


def show_history(args: argparse.Namespace) -> int:
    from tuiapp.core.outbox import recover_interrupted

    period = Period.parse(args.period) if args.period else None
    open_existing(args)
    recover_interrupted()  # a send whose process died shows as "état inconnu", not "en cours"
    rows = list(_rows(period))
    if args.format == "csv":
        writer = csv.writer(sys.stdout, delimiter=";", lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return EXIT_OK
    if not rows:
        say("Aucun envoi enregistré.")
        return EXIT_OK
    shown = (0, 1, 2, 4, 7, 10, 3)  # the columns that fit a terminal; --format csv has them all
    widths = {i: min(max(len(COLUMNS[i]), *(len(row[i]) for row in rows)), 40) for i in shown}
    say("  ".join(COLUMNS[i].ljust(widths[i]) for i in shown))
    for row in rows:
        say("  ".join(row[i][: widths[i]].ljust(widths[i]) for i in shown).rstrip())
    return EXIT_OK
