"""Importing the billing software's invoices: one row per invoice or per line, all or nothing,
re-import a no-op, mailed invoices rectified only on request."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.import_samples import dump, write_csv, write_xlsx
from tuiapp.db.models import Invoice, InvoiceLine, Resident, SendRecord, Structure
from tuiapp.domain.periods import Period
from tuiapp.domain.safe_text import find_control
from tuiapp.services.import_files import Row, Table, read_table
from tuiapp.services.import_invoices import import_invoices
from tuiapp.services.import_mapping import explicit_mapping, guess_mapping

TOTALS = ("N° facture", "N° résident", "Période", "Date facture", "Montant HT", "Type")
LINES = ("N° facture", "N° résident", "Période", "Date facture", "Total HT", "Libellé", "Qté", "PU", "Montant")
MAILED = datetime(2024, 10, 2, 9, 30, tzinfo=UTC)


def run(path, *, dry_run=False, update_mailed=False, progress=None):
    table = read_table(path)
    return import_invoices(table, guess_mapping(table.headers, "invoices"), dry_run=dry_run,
                           update_mailed=update_mailed, progress=progress)


@pytest.fixture
def residents(database):
    # One statement for the 200 (valid) residents: created one by one, each with its checks, they
    # took 0.7 s of each test's set-up on PostgreSQL (4 Dec).
    with database.atomic():
        structures = [Structure.create(code="FH", name="Foyer"), Structure.create(code="MAS", name="Maison")]
        Resident.insert_many([{"structure": structures[index % 2], "last_name": f"NOM{index}",
                               "external_id": f"R{index}"} for index in range(1, 201)]).execute()
    return {resident.external_id: resident for resident in Resident.select()}


def lines_of(number: str) -> list[tuple]:
    query = InvoiceLine.select().join(Invoice).where(Invoice.number == number).order_by(InvoiceLine.position)
    return [(line.position, line.label, line.quantity, line.unit_price, line.amount) for line in query]


def test_one_row_per_invoice_in_french_forms(residents, tmp_path):
    rows = [["F1", "R1", "2024-09", "28/09/2024", "1 234,56", ""],
            ["F2", "R2", "09/2024", "2024-09-28", "1234.56", "facture"],
            ["F3", "R3", "septembre 2024", "28/09/2024", "1.234,56", ""],
            ["F4", "R4", "Sept. 2024", "28/09/2024", "1 234,56 €", "Facture"],
            ["A1", "R1", "septembre 2024", "30/09/2024", "−120,00", "AV"],
            ["A2", "R2", "09/2024", "30/09/2024", "-15.5", "avoir"]]
    result = run(write_csv(tmp_path / "f.csv", TOTALS, rows))
    assert (result.created, result.problems, result.written) == (6, [], True)
    invoices = {invoice.number: invoice for invoice in Invoice.select()}
    for number in ("F1", "F2", "F3", "F4"):
        invoice = invoices[number]
        assert (invoice.amount_ht, invoice.period, invoice.issue_date, invoice.kind) == (
            Decimal("1234.56"), Period(2024, 9), date(2024, 9, 28), "facture")
    assert (invoices["A1"].kind, invoices["A1"].amount_ht) == ("avoir", Decimal("-120.00"))
    assert (invoices["A2"].kind, invoices["A2"].amount_ht) == ("avoir", Decimal("-15.50"))
    assert invoices["F2"].structure_id == residents["R2"].structure_id  # the resident's structure
    assert lines_of("F1") == []  # an invoice with only its total


def test_rows_sharing_a_number_form_one_invoice_whose_total_is_the_sum_of_its_lines(residents, tmp_path):
    rows = [["F1", "R1", "09/2024", "30/09/2024", "1 020,00", "Hébergement", "30", "33,00", ""],
            ["F2", "R2", "09/2024", "30/09/2024", "", "Hébergement", "", "", "500"],
            ["F1", "R1", "", "", "", "Blanchissage", "", "30,00", ""],
            ["F1", "R1", "09/2024", "30/09/2024", "1020", "Absence", "-1", "0", "0,00"]]
    result = run(write_csv(tmp_path / "f.csv", LINES, rows))
    assert (result.created, result.problems) == (2, [])
    assert Invoice.get(Invoice.number == "F1").amount_ht == Decimal("1020.00")
    assert lines_of("F1") == [(1, "Hébergement", Decimal("30.00"), Decimal("33.00"), Decimal("990.00")),
                              (2, "Blanchissage", Decimal("1.00"), Decimal("30.00"), Decimal("30.00")),
                              (3, "Absence", Decimal("-1.00"), Decimal("0.00"), Decimal("0.00"))]
    assert lines_of("F2") == [(1, "Hébergement", Decimal("1.00"), Decimal("500.00"), Decimal("500.00"))]


def test_a_line_s_amount_is_rounded_half_up_as_billing_software_does(residents, tmp_path):
    # 0,5 × 58,45 = 29,225: 29,23 on the billing software's invoice (banker's rounding would say 29,22)
    result = run(write_csv(tmp_path / "r.csv", LINES, [
        ["F1", "R1", "09/2024", "30/09/2024", "", "Demi-journée", "0,5", "58,45", "29,23"],
        ["F2", "R1", "09/2024", "30/09/2024", "", "Demi-journée", "0,5", "58,45", ""]]))
    assert result.problems == []
    assert [Invoice.get(Invoice.number == number).amount_ht for number in ("F1", "F2")] == [Decimal("29.23")] * 2


def test_lines_that_disagree_are_all_reported(residents, tmp_path):
    rows = [["F1", "R1", "09/2024", "30/09/2024", "1 000,00", "Hébergement", "30", "33,00", ""],  # total 990
            ["F2", "R2", "09/2024", "30/09/2024", "", "Hébergement", "2", "10", "25"],  # 2 x 10 is not 25
            ["F3", "R3", "09/2024", "30/09/2024", "", "Hébergement", "1", "10", ""],
            ["F3", "R4", "10/2024", "30/09/2024", "", "Autre", "1", "10", ""],  # another resident and period
            ["F4", "R5", "09/2024", "30/09/2024", "", "", "1", "10", ""]]  # no label
    before = dump()
    result = run(write_csv(tmp_path / "f.csv", LINES, rows))
    assert [(problem.line, problem.column) for problem in result.problems] == [
        (2, "Total HT"), (3, "Montant"), (5, "N° résident"), (5, "Période"), (6, "Libellé")]
    assert "somme des lignes (990,00" in result.problems[0].reason
    assert "2 × 10,00 € = 20,00 €" in result.problems[1].reason.replace("\xa0", " ")
    assert "ne correspond pas à la ligne 4 de la même facture (« R3 »)" in result.problems[2].reason
    assert dump() == before


def test_a_number_twice_in_a_file_of_totals_is_refused(residents, tmp_path):
    rows = [["F1", "R1", "09/2024", "30/09/2024", "10", ""], ["F1", "R2", "09/2024", "30/09/2024", "10", ""]]
    result = run(write_csv(tmp_path / "f.csv", TOTALS, rows))
    assert [(problem.line, problem.column) for problem in result.problems] == [(3, "N° résident"),
                                                                               (3, "N° facture")]
    assert Invoice.select().count() == 0


def test_three_bad_rows_among_200_write_nothing_and_are_all_reported(residents, tmp_path):
    rows = [[f"F{index}", f"R{index}", "09/2024", "30/09/2024", "100,00", ""] for index in range(1, 201)]
    rows[4][1] = "R999"  # line 6: unknown resident
    rows[49][4] = "12,345"  # line 51: three decimals
    rows[149][4] = "-10"  # line 151: a negative facture
    before = dump()
    result = run(write_csv(tmp_path / "f.csv", TOTALS, rows))
    assert [(problem.line, problem.column, problem.value) for problem in result.problems] == [
        (6, "N° résident", "R999"), (51, "Montant HT", "12,345"), (151, "Montant HT", "-10")]
    assert "résident inconnu" in result.problems[0].reason
    assert "deux décimales au plus" in result.problems[1].reason
    assert "est-ce un avoir" in result.problems[2].reason
    assert (result.written, dump()) == (False, before)


def test_an_avoir_must_be_negative(residents, tmp_path):
    result = run(write_csv(tmp_path / "f.csv", TOTALS, [["A1", "R1", "09/2024", "30/09/2024", "20", "avoir"],
                                                        ["A2", "R1", "09/2024", "30/09/2024", "5", "remise"]]))
    assert [(problem.line, problem.column) for problem in result.problems] == [(2, "Montant HT"), (3, "Type")]
    assert "le montant d'un avoir est négatif" in result.problems[0].reason


def test_reimporting_the_same_content_changes_nothing_csv_then_xlsx(residents, tmp_path):
    text_rows = []
    xlsx_rows: list[list[object]] = []
    for index in range(1, 41):
        for line in range(3):
            text_rows.append([f"F{index}", f"R{index}", "09/2024", "30/09/2024", "", f"Ligne {line}", "2",
                              f"{index},5{line}", ""])
            xlsx_rows.append([f"F{index}", f"R{index}", "2024-09", date(2024, 9, 30), None, f"Ligne {line}", 2,
                              Decimal(f"{index}.5{line}"), None])
    assert run(write_csv(tmp_path / "f.csv", LINES, text_rows)).created == 40
    before = dump()
    again = run(tmp_path / "f.csv")
    assert (again.created, again.updated, again.unchanged, again.written) == (0, 0, 40, False)
    as_xlsx = run(write_xlsx(tmp_path / "f.xlsx", LINES, xlsx_rows))
    assert (as_xlsx.unchanged, as_xlsx.problems) == (40, [])
    assert dump() == before


def test_a_change_to_a_mailed_invoice_is_refused_unless_update_mailed(residents, tmp_path):
    path = write_csv(tmp_path / "f.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100,00", ""],
                                                  ["F2", "R2", "09/2024", "30/09/2024", "50,00", ""]])
    run(path)
    mailed = Invoice.get(Invoice.number == "F1")
    mailed.last_mailed_at = MAILED
    mailed.save()
    record = SendRecord.create(invoice=mailed, recipients="r1@example.org", status="sent", amount_ht=Decimal("100"),
                               pdf_sha256="ab" * 32, finished_at=MAILED)
    changed = write_csv(tmp_path / "f2.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "90,00", ""],
                                                      ["F2", "R2", "09/2024", "30/09/2024", "55,00", ""]])
    before = dump()
    refused = run(changed)
    assert refused.mailed_changed == ["F1"]
    assert [(problem.line, problem.column, problem.value) for problem in refused.problems] == [(2, "N° facture",
                                                                                                "F1")]
    assert "déjà envoyée" in refused.problems[0].reason and "que sur demande" in refused.problems[0].reason
    assert dump() == before

    accepted = run(changed, update_mailed=True)
    assert (accepted.updated, accepted.mailed_changed, accepted.problems) == (2, ["F1"], [])
    rectified = Invoice.get(Invoice.number == "F1")
    assert (rectified.id, rectified.amount_ht, rectified.last_mailed_at) == (mailed.id, Decimal("90.00"), None)
    assert rectified.rectified_at is not None
    kept = SendRecord.get_by_id(record.id)
    assert (kept.invoice_id, kept.amount_ht, kept.status) == (mailed.id, Decimal("100.00"), "sent")
    assert Invoice.get(Invoice.number == "F2").rectified_at is None  # never mailed: simply updated


def test_a_send_recorded_before_its_amount_was_kept_keeps_the_amount_it_carried(residents, tmp_path):
    # a send of schema 5 has no amount: the history showed the invoice's, which the rectification changes
    run(write_csv(tmp_path / "f.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100,00", ""]]))
    Invoice.update(last_mailed_at=MAILED).where(Invoice.number == "F1").execute()
    old = SendRecord.create(invoice=Invoice.get(Invoice.number == "F1"), recipients="r1@example.org", status="sent",
                            finished_at=MAILED)
    run(write_csv(tmp_path / "f2.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "90,00", ""]]),
        update_mailed=True)
    assert Invoice.get(Invoice.number == "F1").amount_ht == Decimal("90.00")
    assert SendRecord.get_by_id(old.id).amount_ht == Decimal("100.00")


def test_an_invoice_being_sent_is_never_changed(residents, tmp_path):
    run(write_csv(tmp_path / "f.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100,00", ""]]))
    SendRecord.create(invoice=Invoice.get(Invoice.number == "F1"), recipients="r1@example.org", status="queued")
    result = run(write_csv(tmp_path / "f2.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "90", ""]]),
                 update_mailed=True)
    assert "en attente d'envoi ou en cours d'envoi" in result.problems[0].reason
    assert Invoice.get(Invoice.number == "F1").amount_ht == Decimal("100.00")


def test_an_invoice_whose_last_send_is_unknown_is_never_changed(residents, tmp_path):
    # the message may have left: changed now, a later « it did arrive » would mark the new
    # version as mailed, and the resident who has the old one would never get it
    run(write_csv(tmp_path / "f.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100,00", ""]]))
    SendRecord.create(invoice=Invoice.get(Invoice.number == "F1"), recipients="r1@example.org", status="unknown")
    for update_mailed in (False, True):
        result = run(write_csv(tmp_path / "f2.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "90", ""]]),
                     update_mailed=update_mailed)
        assert [problem.line for problem in result.problems] == [2]
        assert "état inconnu" in result.problems[0].reason and not result.written
    assert Invoice.get(Invoice.number == "F1").amount_ht == Decimal("100.00")


def test_only_totals_keep_the_lines_unless_the_total_changes(residents, tmp_path):
    run(write_csv(tmp_path / "l.csv", LINES, [["F1", "R1", "09/2024", "30/09/2024", "", "A", "1", "60", ""],
                                              ["F1", "R1", "09/2024", "30/09/2024", "", "B", "1", "40", ""]]))
    before = dump()
    same = run(write_csv(tmp_path / "t.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100", ""]]))
    assert (same.unchanged, dump()) == (1, before)
    changed = run(write_csv(tmp_path / "t2.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "120", ""]]))
    assert changed.updated == 1 and lines_of("F1") == []


def test_changed_lines_replace_the_old_ones(residents, tmp_path):
    run(write_csv(tmp_path / "l.csv", LINES, [["F1", "R1", "09/2024", "30/09/2024", "", "A", "1", "60", ""]]))
    result = run(write_csv(tmp_path / "l2.csv", LINES, [["F1", "R1", "09/2024", "30/09/2024", "", "A", "1", "60", ""],
                                                        ["F1", "R1", "", "", "", "B", "2", "5", ""]]))
    assert result.updated == 1
    assert [line[1:] for line in lines_of("F1")] == [("A", Decimal("1.00"), Decimal("60.00"), Decimal("60.00")),
                                                      ("B", Decimal("2.00"), Decimal("5.00"), Decimal("10.00"))]
    assert Invoice.get(Invoice.number == "F1").amount_ht == Decimal("70.00")


def test_hostile_cells_are_refused_and_reported_safely(residents, tmp_path):
    rows = [["F\x1b[2J1", "R1", "09/2024", "30/09/2024", "1", ""],
            ["F2", "R1", "09/2024\x00", "30/09/2024", "1", ""],
            ["F3", "R1", "09/2024", "30/09/2024", "1", "avoir\u202e"],
            ["F4\u2066", "R1", "09/2024", "30/09/2024", "1", ""],
            ["F5", "R1", "09/2024", "30/09/2024", "1" * 1_000_000, ""]]
    before = dump()
    table = Table(tmp_path / "f.csv", "csv", TOTALS, [Row(line, tuple(row)) for line, row in enumerate(rows, 2)])
    result = import_invoices(table, guess_mapping(TOTALS, "invoices"))
    assert [problem.line for problem in result.problems] == [2, 3, 4, 5, 6]
    for problem in result.problems:
        assert find_control(str(problem)) is None and len(str(problem)) < 400
    assert dump() == before


def test_dry_run_and_progress(residents, tmp_path):
    rows = [[f"F{index}", f"R{index % 200 + 1}", "09/2024", "30/09/2024", "10", ""] for index in range(2500)]
    seen = []
    before = dump()
    result = run(write_csv(tmp_path / "f.csv", TOTALS, rows), dry_run=True,
                 progress=lambda done, total: seen.append((done, total)))
    assert (result.created, result.written, dump()) == (2500, False, before)
    assert seen[0] == (1000, 2500) and seen[-1] == (2500, 2500)


def test_a_resident_who_moved_does_not_move_their_past_invoices(residents, tmp_path):
    path = write_csv(tmp_path / "f.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100,00", ""]])
    run(path)
    resident = residents["R1"]
    former = resident.structure_id
    resident.structure = Structure.get(Structure.id != former)
    resident.save()
    before = dump()
    assert run(path).unchanged == 1 and dump() == before
    assert Invoice.get(Invoice.number == "F1").structure_id == former
    moved = run(write_csv(tmp_path / "g.csv", TOTALS, [["G1", "R1", "10/2024", "31/10/2024", "100,00", ""]]))
    assert moved.created == 1 and Invoice.get(Invoice.number == "G1").structure_id == resident.structure_id


def test_lines_need_an_amount_or_a_unit_price_column(residents, tmp_path):
    headers = ("N° facture", "N° résident", "Période", "Date facture", "Commentaire")
    table = read_table(write_csv(tmp_path / "f.csv", headers, [["F1", "R1", "09/2024", "30/09/2024", "x"]]))
    mapping = explicit_mapping(table.headers, "invoices", {"Commentaire": "line_label"})
    result = import_invoices(table, mapping)
    assert [str(problem) for problem in result.problems] == [
        "fichier, colonne Montant de la ligne : valeur «  » : colonne obligatoire absente : des lignes (libellé, "
        "quantité) ont besoin d'un montant ou d'un prix unitaire."]


def test_problems_come_in_the_files_order(residents, tmp_path):
    rows = [["F1", "R1", "09/2024", "30/09/2024", "", "A", "1", "10", ""],
            ["F2", "R2", "13/2024", "30/09/2024", "", "A", "1", "10", ""],
            ["F1", "R3", "09/2024", "30/09/2024", "", "B", "1", "10", ""]]
    result = run(write_csv(tmp_path / "f.csv", LINES, rows))
    assert [problem.line for problem in result.problems] == [3, 4]



def test_a_changed_invoice_loses_its_imported_pdf_and_dropped_lines_are_said(residents, tmp_path):
    """Its own PDF says the old amount: it goes (a generated one is sent, or the new one imported);
    a totals-only file that changes the total takes the lines away, and says it."""
    import hashlib

    from tuiapp.db.import_models import InvoicePdf

    run(write_csv(tmp_path / "f.csv", LINES, [["F1", "R1", "09/2024", "30/09/2024", "", "Hébergement", "30", "3,00",
                                               "90,00"],
                                              ["F2", "R2", "09/2024", "30/09/2024", "", "Hébergement", "1", "5,00",
                                               "5,00"]]))
    for number in ("F1", "F2"):
        InvoicePdf.create(invoice=Invoice.get(Invoice.number == number), sha256=hashlib.sha256(b"%PDF").hexdigest(),
                          data=b"%PDF", file_name=f"{number}.pdf")
    result = run(write_csv(tmp_path / "t.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100,00", ""],
                                                        ["F2", "R2", "09/2024", "30/09/2024", "5,00", ""]]))
    assert (result.updated, result.unchanged) == (1, 1) and not result.problems
    assert result.notes == [
        "Facture F1 : le fichier ne donne que son total, qui change ; sa ligne est retirée.",
        "Facture F1 : son PDF importé ne correspond plus (la facture change) ; il est retiré : un PDF sera "
        "généré, à moins que le nouveau soit importé."]
    assert lines_of("F1") == [] and len(lines_of("F2")) == 1
    assert [pdf.invoice.number for pdf in InvoicePdf.select()] == ["F2"]  # the unchanged one keeps its own


def test_a_second_facture_for_a_resident_and_month_is_said(residents, tmp_path):
    run(write_csv(tmp_path / "f.csv", TOTALS, [["F1", "R1", "09/2024", "30/09/2024", "100,00", ""]]))
    result = run(write_csv(tmp_path / "g.csv", TOTALS, [["G1", "R1", "09/2024", "30/09/2024", "100,00", ""],
                                                        ["AV1", "R1", "09/2024", "30/09/2024", "-10,00", "avoir"],
                                                        ["G2", "R2", "10/2024", "31/10/2024", "100,00", ""]]))
    assert result.created == 3 and not result.problems
    assert result.notes == ["NOM1 a 2 factures pour septembre 2024 (F1, G1) ; si c'est une renumérotation, "
                            "toutes seront envoyées."]
