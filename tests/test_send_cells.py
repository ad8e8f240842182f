"""The sending tab's cells: what each column shows of an invoice (no app needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from tuiapp.db.queries import SendRow
from tuiapp.domain.status import SendStatus
from tuiapp.widgets import send_cells

MAILED = datetime(2024, 10, 3, 12, 5, tzinfo=UTC)
PRINTED = datetime(2024, 10, 1, 7, 40, tzinfo=UTC)


def row(*, mailed=None, printed=None, status=None) -> SendRow:
    return SendRow(invoice_id=1, resident="MAILLY Josiane", number="FAM-202409-001", amount_ht=Decimal("1752.00"),
                   last_mailed_at=mailed, last_printed_at=printed, email="j@example.org", guardian_email=None,
                   send_status=status, send_batch=None, send_record_id=None)


def local(moment: datetime) -> str:
    return moment.astimezone().strftime("%d/%m/%y %H:%M")


def shown(sendrow: SendRow, state: str = "") -> dict[str, str]:
    return {key: str(value) for key, value in send_cells.cells(sendrow, False, state, ("state", "mailed")).items()}


def test_the_last_send_shows_date_and_time_of_the_mail_else_of_the_printing():
    assert shown(row(mailed=MAILED, printed=PRINTED), "sent") == {"state": "envoyée", "mailed": local(MAILED)}
    assert shown(row(printed=PRINTED)) == {"state": "éditée", "mailed": local(PRINTED)}
    assert shown(row()) == {"state": "", "mailed": ""}
    # a failed mail after a printing: the state says the failure, the time is the printing's
    assert shown(row(printed=PRINTED, status="failed"), "failed") == {"state": "échec", "mailed": local(PRINTED)}


def test_the_first_six_columns_fill_an_80_column_terminal():
    """One cell of padding on each side; the scroll bar takes two columns of the 80."""
    first_six = send_cells.COLUMNS[:6]
    assert sum(column.width + 2 for column in first_six) == 78
    assert all(len(column.label) <= column.width for column in first_six)
    assert len(local(MAILED)) <= send_cells.COLUMNS[5].width


def test_every_state_fits_its_column_and_reads_from_the_one_label_table():
    width = send_cells.COLUMNS[4].width
    for status in SendStatus:
        assert shown(row(), status)["state"] == status.short_label and len(status.short_label) <= width
    assert shown(row(), "queued")["state"] == "attente"
    assert shown(row(printed=PRINTED), "other")["state"] == "ailleurs"  # being sent elsewhere: said first


def test_a_rectified_invoice_reads_rectifiee_until_it_is_mailed_again():
    rectified = replace(row(printed=PRINTED), rectified_at=MAILED)
    width = send_cells.COLUMNS[4].width
    assert shown(rectified, "sent")["state"] == "rectifiée" and len("rectifiée") <= width  # its old version was sent
    assert shown(rectified)["state"] == "rectifiée"
    assert shown(rectified, "queued")["state"] == "attente"  # what happens to it now is said first
    assert shown(rectified, "failed")["state"] == "échec"
    mailed_again = replace(rectified, last_mailed_at=MAILED)
    assert shown(mailed_again, "sent")["state"] == "envoyée"


def test_the_document_column_says_avoir_and_where_the_pdf_comes_from():
    assert str(send_cells.document(row())) == "Facture, PDF généré"
    credit = replace(row(), kind="avoir", amount_ht=Decimal("-120.00"), pdf_imported=True)
    assert str(send_cells.document(credit)) == "Avoir, PDF importé"
    column = next(column for column in send_cells.COLUMNS if column.key == "document")
    assert len("Facture, PDF généré") <= column.width
