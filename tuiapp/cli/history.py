"""``tuiapp history``: the send records, as a table or as CSV (``core/csv_export``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuiapp.cli.common import EXIT_OK, add_db_option, open_existing, say
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.formatting import counted, format_amount, format_timestamp
from tuiapp.domain.periods import Period
from tuiapp.domain.status import SendStatus

COLUMNS = (
    "envoi", "facture", "résident", "montant HT", "destinataires", "état", "créé", "début", "fin",
    "message_id", "réponse", "opérateur", "erreur", "pdf_sha256",
)
#: The columns that fit a terminal; --format csv has them all.
TABLE_COLUMNS = ("envoi", "facture", "résident", "montant HT", "état", "fin", "pdf", "opérateur", "destinataires")
#: The table's own names and cells for some columns: the amount in French, the PDF's hash cut short.
_TABLE_NAMES = {"pdf": "pdf_sha256"}
_SHORT_HASH = 12


def register(commands) -> None:
    history = commands.add_parser("history", help="historique des envois")
    add_db_option(history)
    history.add_argument("--period", metavar="AAAA-MM", help="seulement cette période")
    history.add_argument("--format", choices=("table", "csv"), default="table")
    history.add_argument("--output", metavar="FICHIER",
                         help="avec --format csv : écrit ce fichier (sinon la sortie standard)")
    history.set_defaults(func=show_history)


def _rows(period: Period | None):
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
            record.id,
            record.invoice.number,
            record.invoice.resident.display_name,
            # what this send carried (kept at its claim); the invoice's amount for the sends made before
            record.amount_ht if record.amount_ht is not None else record.invoice.amount_ht,
            record.recipients,
            SendStatus(record.status).label,  # the table's CHECK admits only these states
            format_timestamp(record.created_at),
            format_timestamp(record.started_at),
            format_timestamp(record.finished_at),
            record.message_id or "",
            " ".join((record.last_reply or "").split()),
            record.operator,
            " ".join(filter(None, (record.error, record.refused_recipients))),
            record.pdf_sha256 or "",
        )


def show_history(args: argparse.Namespace) -> int:
    from tuiapp.sending.recovery import recover_interrupted

    period = Period.parse(args.period) if args.period else None
    if args.output is not None and args.format != "csv":
        raise TuiappError("--output va avec --format csv.")
    open_existing(args)
    recover_interrupted()  # a send whose process died shows as "état inconnu", not "en cours"
    rows = list(_rows(period))
    if args.format == "csv":
        return _write_csv(rows, args.output)
    if not rows:
        say("Aucun envoi enregistré.")
        return EXIT_OK
    shown = [COLUMNS.index(_TABLE_NAMES.get(name, name)) for name in TABLE_COLUMNS]
    texts = [_table_cells(row) for row in rows]
    widths = {i: min(max(len(name), *(len(row[i]) for row in texts)), 40) for i, name in zip(shown, TABLE_COLUMNS, strict=True)}
    say("  ".join(name.ljust(widths[i]) for i, name in zip(shown, TABLE_COLUMNS, strict=True)))
    for row in texts:
        say("  ".join(row[i][: widths[i]].ljust(widths[i]) for i in shown).rstrip())
    return EXIT_OK


def _table_cells(row) -> list[str]:
    """A row's texts in the table: the amount in French (``1 234,56 €``), the PDF's hash cut short."""
    cells = [str(value) for value in row]
    amount, digest = COLUMNS.index("montant HT"), COLUMNS.index("pdf_sha256")
    cells[amount] = format_amount(row[amount])
    cells[digest] = cells[digest][:_SHORT_HASH]
    return cells


def _write_csv(rows, output: str | None) -> int:
    """The file whole (a BOM first), on standard output or atomically in ``output``."""
    from tuiapp.services.atomic_files import write_atomically, write_error_reason
    from tuiapp.services.csv_export import csv_bytes

    data = csv_bytes(COLUMNS, rows)
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)  # bytes: the same file whatever the terminal's encoding
        sys.stdout.buffer.flush()
        return EXIT_OK
    path = Path(output).expanduser()
    try:
        write_atomically(path, data)
    except OSError as exc:
        raise TuiappError(f"impossible d'écrire {path} : {write_error_reason(exc)}") from None
    say(f"{counted(len(rows), 'envoi exporté', 'envois exportés')} dans {path}")
    return EXIT_OK
