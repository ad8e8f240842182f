"""``tuiapp import invoices``: the billing software's invoices and credit notes, matched on
their number.

A file has one row per invoice (its total), or one row per line (label, quantity, unit
price, amount): rows that share a number form one invoice, whose resident, period, date and
kind must agree, and whose total is the sum of its lines (a total column, when there is one,
must say the same). An invoice of a line file may still have only its total.

Every invoice passes ``Invoice.clean()`` and every line ``InvoiceLine.clean()``; the resident
is found by its ID, the structure is the resident's (an existing invoice of the same resident
keeps its own: a resident who moved does not move their past invoices). An invoice the file does not change is
not written. A change to an invoice already mailed is refused (``mailed_changed``) unless
``update_mailed``: it then keeps its number, is *rectifiée* and is to be sent again (its send
records keep what each version said); an invoice queued, being sent or whose last send is
*unknown* is never changed (``import_guard``).
When the file gives only an invoice's total, its lines stay, unless the total changes (they
would no longer add up): they are then removed, and a note says so. A changed invoice that had
its own PDF (``import pdfs``) loses it, with a note: that PDF says what the invoice no longer
says (a generated one is sent, unless the new PDF is imported). A new facture for a resident and
month that already have one is said in a note (a renumbering would send both). All or nothing:
one transaction.
"""

from __future__ import annotations

from decimal import Decimal

from tuiapp.db.fields import utcnow
from tuiapp.db.import_models import InvoicePdf
from tuiapp.db.models import Invoice, InvoiceLine, Resident, SendRecord
from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.formatting import counted, format_amount, format_timestamp, period_label, plural
from tuiapp.domain.periods import Period
from tuiapp.domain.templates import person_name
from tuiapp.services.import_files import Row, Table
from tuiapp.services.import_guard import send_blocks
from tuiapp.services.import_invoice_rows import Line, ReadRow, RowReader
from tuiapp.services.import_mapping import mapping_problems
from tuiapp.services.import_report import ImportResult, Problem
from tuiapp.services.import_rows import (
    Cells,
    Progress,
    Ticker,
    chunks,
    dicts,
    insert_all,
    problem,
    problems_of,
    refuse_or_write,
    transaction,
    tuples,
    update_all,
)

#: Residents named in the notes of a second facture for one month (the rest counted).
SECOND_FACTURES_SAID = 10
#: The invoice's fields an import sets and compares.
FIELDS = ("resident", "structure", "period_year", "period_month", "issue_date", "amount_ht", "kind")
_AGREE = (("resident", "resident"), ("period", "period"), ("issue_date", "issue_date"), ("kind", "kind"))


class _Plan:
    def __init__(self) -> None:
        self.created: list[tuple[dict, list[Line]]] = []
        self.updated: list[tuple[int, dict, list[Line] | None]] = []  # None: its lines stay
        self.detached: list[int] = []  # invoices whose imported PDF no longer says what they say


def import_invoices(table: Table, mapping: dict[str, int], *, dry_run: bool = False, update_mailed: bool = False,
                    progress: Progress | None = None) -> ImportResult:
    """Creates and updates the invoices of ``table`` under ``mapping`` ({field: column})."""
    result = ImportResult("invoices", dry_run=dry_run)
    cells = Cells(table, mapping)
    result.problems.extend(mapping_problems(table.headers, "invoices", mapping))
    if not cells.has("line_amount") and not cells.has("line_unit_price"):
        if cells.has("line_label") or cells.has("line_quantity"):
            result.problems.append(Problem(0, "Montant de la ligne", "", "colonne obligatoire absente : des "
                                           "lignes (libellé, quantité) ont besoin d'un montant ou d'un prix "
                                           "unitaire."))
        elif not cells.has("amount_ht"):
            result.problems.append(Problem(0, "Montant HT", "", "colonne obligatoire absente : le montant HT de "
                                           "la facture, ou le montant (ou le prix unitaire) de ses lignes."))
    if result.problems:
        return result
    ticker = Ticker(progress, len(table.rows))
    groups: dict[str, list[Row]] = {}
    for row in table.rows:
        number = cells.get(row, "number").strip()
        if number:
            groups.setdefault(number, []).append(row)
        else:
            result.problems.append(problem(row.line, cells.header("number"), "", "ce champ est obligatoire."))
    with transaction(dry_run) as txn:
        checker = _Checker(cells, result, update_mailed, list(groups))
        plan = _Plan()
        for number, rows in groups.items():
            checker.check(number, rows, plan)
            ticker.tick(len(rows))
        result.created, result.updated = len(plan.created), len(plan.updated)
        if not result.problems:
            result.notes.extend(_second_factures(plan))
        result.problems.sort(key=lambda item: item.line)  # an invoice's rows may be far apart: file order
        ticker.finish()
        return refuse_or_write(result, txn, lambda: _write(plan))


class _Checker:
    """Reads what the database has of the file's invoices, in bulk, then checks each invoice against it."""

    def __init__(self, cells: Cells, result: ImportResult, update_mailed: bool, numbers: list[str]) -> None:
        self.cells, self.result, self.update_mailed = cells, result, update_mailed
        residents = Resident.select(Resident.external_id, Resident.id, Resident.structure)
        self.residents = {key: (rid, sid) for key, rid, sid in
                          tuples(residents.where(Resident.external_id.is_null(False)))}
        self.reader = RowReader(cells, self.residents)
        # The file's invoices only (not years of history), a few hundred numbers per query.
        columns = (Invoice.id, Invoice.number, Invoice.last_mailed_at, *(getattr(Invoice, name) for name in FIELDS))
        self.existing = {row["number"]: row for part in chunks(numbers)
                         for row in dicts(Invoice.select(*columns).where(Invoice.number.in_(list(part))))}
        ids = [row["id"] for row in self.existing.values()]
        self.lines: dict[int, list[Line]] = {}
        for part in chunks(ids):
            query = InvoiceLine.select(InvoiceLine.invoice, InvoiceLine.label, InvoiceLine.quantity,
                                       InvoiceLine.unit_price, InvoiceLine.amount).where(
                InvoiceLine.invoice.in_(list(part))).order_by(InvoiceLine.invoice, InvoiceLine.position,
                                                              InvoiceLine.id)
            for invoice_id, *values in tuples(query):
                self.lines.setdefault(invoice_id, []).append(Line(*values))
        self.blocked = send_blocks(ids)  # queued, being sent, or sent with an unknown outcome
        self.with_pdf = {invoice_id for part in chunks(ids) for (invoice_id,) in
                         tuples(InvoicePdf.select(InvoicePdf.invoice).where(InvoicePdf.invoice.in_(list(part))))}

    def check(self, number: str, rows: list[Row], plan: _Plan) -> None:
        reads = [self.reader.read(row, first=index == 0) for index, row in enumerate(rows)]
        problems = [item for read in reads for item in read.problems]
        problems += self._disagreements(reads)
        if not self.reader.with_lines:
            problems += [problem(read.row.line, self.cells.header("number"), number,
                                 f"n° de facture déjà ligne {reads[0].row.line} (une ligne par facture dans ce "
                                 "fichier, qui n'a pas de colonnes de lignes).") for read in reads[1:]]
        lines = [read.line for read in reads if read.line is not None]
        amount = self._amount(number, reads, lines, problems)
        if problems or amount is None:
            self.result.problems.extend(problems)
            return
        first = reads[0]
        assert first.resident is not None and first.period is not None and first.kind is not None
        resident_id, structure_id = self.residents[first.resident]
        invoice = Invoice(number=number, kind=first.kind, amount_ht=amount, period_year=first.period.year,
                          period_month=first.period.month, issue_date=first.issue_date, resident=resident_id,
                          structure=structure_id)
        try:
            invoice.clean(offline=True)
        except ValidationError as error:
            self.result.problems.extend(problems_of(error, first.row.line, self._where(first.row)))
            return
        values = {"number": number, "resident": resident_id, "structure": structure_id, "period_year": invoice.period_year,
                  "period_month": invoice.period_month, "issue_date": invoice.issue_date,
                  "amount_ht": invoice.amount_ht, "kind": str(invoice.kind)}
        self._plan(number, values, lines if lines else None, first.row, plan)

    def _where(self, row: Row) -> dict[str, tuple[str, str]]:
        cells = self.cells
        total = "amount_ht" if cells.has("amount_ht") else "line_amount"
        pairs = {"number": "number", "kind": "kind", "amount_ht": total, "period": "period",
                 "issue_date": "issue_date", "structure": "resident", "resident": "resident"}
        return {model: (cells.header(name), cells.get(row, name)) for model, name in pairs.items()}

    def _disagreements(self, reads: list[ReadRow]) -> list[Problem]:
        problems = []
        for attribute, name in _AGREE:
            first = getattr(reads[0], attribute)
            for read in reads[1:]:
                value = getattr(read, attribute)
                if value is not None and first is not None and value != first:
                    problems.append(problem(read.row.line, self.cells.header(name), self.cells.get(read.row, name),
                                            f"ne correspond pas à la ligne {reads[0].row.line} de la même facture "
                                            f"(« {self.cells.get(reads[0].row, name).strip()} »)."))
        return problems

    def _amount(self, number: str, reads: list[ReadRow], lines: list[Line], problems: list[Problem]) -> Decimal | None:
        """The invoice's total: the sum of its lines (a total given must say the same), or the total given."""
        totals = [read for read in reads if read.total is not None]
        if not lines:
            if not totals:
                if not problems:
                    column = "amount_ht" if self.cells.has("amount_ht") else "line_amount"
                    problems.append(problem(reads[0].row.line, self.cells.header(column), "",
                                            "montant attendu (ni montant HT ni lignes pour cette facture)."))
                return None
            amount = totals[0].total or Decimal("0.00")  # not None: filtered above
        else:
            amount = sum((line.amount for line in lines), Decimal("0.00"))
        for read in totals:
            if read.total != amount:
                why = ("à la somme des lignes" if lines else f"au montant de la ligne {totals[0].row.line}")
                problems.append(problem(read.row.line, self.cells.header("amount_ht"),
                                        self.cells.get(read.row, "amount_ht"),
                                        f"ne correspond pas {why} ({format_amount(amount)})."))
        return amount

    def _plan(self, number: str, values: dict, lines: list[Line] | None, row: Row, plan: _Plan) -> None:
        current = self.existing.get(number)
        if current is None:
            plan.created.append((values, lines or []))
            return
        if current["resident"] == values["resident"]:
            # Its structure was the resident's when it was made: a resident who moved since does not move it.
            values["structure"] = current["structure"]
        old_lines = self.lines.get(current["id"], [])
        dropped = lines is None and old_lines and values["amount_ht"] != current["amount_ht"]
        if dropped:
            lines = []  # only the total: lines that no longer add up go
        if all(current[name] == values[name] for name in FIELDS) and (lines is None or lines == old_lines):
            self.result.unchanged += 1
            return
        where = (row.line, self.cells.header("number"), number)
        if current["id"] in self.blocked:
            self.result.problems.append(problem(*where, f"cette facture {self.blocked[current['id']]}"))
            return
        if current["last_mailed_at"] is not None:
            self.result.mailed_changed.append(number)
            if not self.update_mailed:
                self.result.problems.append(problem(
                    *where, f"déjà envoyée ({format_timestamp(current['last_mailed_at'])}) et modifiée par ce "
                            "fichier : elle n'est rectifiée (et à renvoyer) que sur demande."))
                return
            values = {**values, "rectified_at": utcnow(), "last_mailed_at": None}
        plan.updated.append((current["id"], values, lines))
        if dropped:
            self.result.notes.append(f"Facture {number} : le fichier ne donne que son total, qui change ; "
                                     f"{plural(len(old_lines), 'sa ligne est retirée', f'ses {len(old_lines)} lignes sont retirées')}.")
        if current["id"] in self.with_pdf:
            plan.detached.append(current["id"])
            self.result.notes.append(f"Facture {number} : son PDF importé ne correspond plus (la facture change) ; "
                                     "il est retiré : un PDF sera généré, à moins que le nouveau soit importé.")


def _write(plan: _Plan) -> None:
    insert_all(Invoice, [values for values, _ in plan.created])
    ids: dict[str, int] = {}
    numbers = [values["number"] for values, _ in plan.created]
    for part in chunks(numbers):
        ids.update(tuples(Invoice.select(Invoice.number, Invoice.id).where(Invoice.number.in_(list(part)))))
    new_lines = [(ids[values["number"]], lines) for values, lines in plan.created]
    for part in chunks([invoice_id for invoice_id, _, _ in plan.updated]):
        # Sends recorded before schema 6 did not keep their amount (the history shows the
        # invoice's): they keep the amount they carried, before the invoice changes.
        SendRecord.update(amount_ht=Invoice.select(Invoice.amount_ht).where(Invoice.id == SendRecord.invoice)).where(
            SendRecord.invoice.in_(list(part)) & SendRecord.amount_ht.is_null()).execute()
    update_all(Invoice, [(invoice_id, values) for invoice_id, values, _ in plan.updated])
    for part in chunks(plan.detached):
        InvoicePdf.delete().where(InvoicePdf.invoice.in_(list(part))).execute()
    replaced = [(invoice_id, lines) for invoice_id, _, lines in plan.updated if lines is not None]
    for part in chunks([invoice_id for invoice_id, _ in replaced]):
        InvoiceLine.delete().where(InvoiceLine.invoice.in_(list(part))).execute()
    insert_all(InvoiceLine, [
        {"invoice": invoice_id, "position": position, "label": line.label, "quantity": line.quantity,
         "unit_price": line.unit_price, "amount": line.amount}
        for invoice_id, lines in (*new_lines, *replaced) for position, line in enumerate(lines, 1)])


def _second_factures(plan: _Plan) -> list[str]:
    """Notes: a resident and a month with more than one facture, one of them new (in the base or
    in this file): one line each, the first ``SECOND_FACTURES_SAID`` only."""
    numbers: dict[tuple, list[str]] = {}
    for values, _ in plan.created:
        if values["kind"] == DocumentKind.FACTURE:
            numbers.setdefault((values["resident"], values["period_year"], values["period_month"]), []).append(
                values["number"])
    if not numbers:
        return []
    new = {number for found in numbers.values() for number in found}
    query = Invoice.select(Invoice.resident, Invoice.period_year, Invoice.period_month, Invoice.number)
    for part in chunks(sorted({resident for resident, _, _ in numbers})):
        for resident, year, month, number in tuples(query.where(
                (Invoice.kind == DocumentKind.FACTURE) & Invoice.resident.in_(list(part)))):
            if (resident, year, month) in numbers and number not in new:
                numbers[(resident, year, month)].append(number)
    doubled = [(key, sorted(found)) for key, found in numbers.items() if len(found) > 1]
    said = doubled[:SECOND_FACTURES_SAID]
    names = {resident: person_name(last, first) for resident, last, first in tuples(
        Resident.select(Resident.id, Resident.last_name, Resident.first_name).where(
            Resident.id.in_([resident for (resident, _, _), _ in said])))}
    notes = []
    for (resident, year, month), found in said:
        shown = ", ".join(found[:5]) + (f" et {counted(len(found) - 5, 'autre', 'autres')}" if len(found) > 5 else "")
        notes.append(f"{names.get(resident, '?')} a {len(found)} factures pour {period_label(Period(year, month))} "
                     f"({shown}) ; si c'est une renumérotation, toutes seront envoyées.")
    if len(doubled) > SECOND_FACTURES_SAID:
        notes.append(f"… et {counted(len(doubled) - SECOND_FACTURES_SAID, 'autre résident', 'autres résidents')} dans ce cas.")
    return notes
