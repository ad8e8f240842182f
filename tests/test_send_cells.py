"""The sending tab's cells: what each column shows of an invoice (no app needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from tuiapp.db.queries import SendRow
from tuiapp.domain.status import SendStatus
from tuiapp.widgets import send_cells, send_detail

MAILED = datetime(2024, 10, 3, 12, 5, tzinfo=UTC)
PRINTED = datetime(2024, 10, 1, 7, 40, tzinfo=UTC)


def row(*, mailed=None, printed=None, status=None) -> SendRow:
    return SendRow(invoice_id=1, resident="MAILLY Josiane", number="FAM-202409-001", amount_ht=Decimal("1752.00"),
                   last_mailed_at=mailed, last_printed_at=printed, email="j@example.org", guardian_email=None,
                   send_status=status, send_batch=None, send_record_id=None)


def local(moment: datetime) -> str:
    return moment.astimezone().strftime("%d/%m/%y")


def in_full(moment: datetime) -> str:
    return moment.astimezone().strftime("%d/%m/%Y à %H:%M")


def detail(sendrow: SendRow, state: str = "") -> list[str]:
    """The detail lines under the table, each as ``left | right``."""
    return [f"{left} | {right}" for left, right in send_detail.detail_rows(sendrow, state)]


def shown(sendrow: SendRow, state: str = "") -> dict[str, str]:
    return {key: str(value) for key, value in send_cells.cells(sendrow, False, state, ("state", "mailed")).items()}


def test_the_last_send_shows_the_day_of_the_mail_else_of_the_printing_and_the_detail_its_time():
    assert shown(row(mailed=MAILED, printed=PRINTED), "sent") == {"state": "envoyée", "mailed": local(MAILED)}
    assert detail(row(mailed=MAILED, printed=PRINTED), "sent")[0] == f"MAILLY Josiane | Envoyée le {in_full(MAILED)}"
    assert shown(row(printed=PRINTED)) == {"state": "éditée", "mailed": local(PRINTED)}
    assert detail(row(printed=PRINTED))[0] == f"MAILLY Josiane | Éditée le {in_full(PRINTED)}, pas envoyée"
    assert shown(row()) == {"state": "", "mailed": ""}
    assert detail(row())[0] == "MAILLY Josiane | Ni envoyée ni éditée"
    # a failed mail after a printing: the state says the failure, the time is the printing's
    assert shown(row(printed=PRINTED, status="failed"), "failed") == {"state": "échec", "mailed": local(PRINTED)}


def test_the_columns_fill_an_80_column_terminal():
    """One cell of padding on each side; the scroll bar takes two columns of the 80."""
    assert sum(column.width + 2 for column in send_cells.COLUMNS) == 78
    assert all(len(column.label) <= column.width for column in send_cells.COLUMNS)
    assert len(local(MAILED)) <= send_cells.COLUMNS[5].width


def test_the_detail_gives_both_addresses_whole_or_says_there_is_none():
    both = replace(row(), guardian_email="tutelle.mailly@udaf-nord.example.org")
    assert detail(both)[1:] == ["Courriel : j@example.org | Facture, PDF généré",
                                "Tuteur : tutelle.mailly@udaf-nord.example.org | "]
    assert detail(replace(row(), email=None))[1:] == ["Courriel : aucune adresse | Facture, PDF généré",
                                                      "Tuteur : aucune adresse | "]


def test_the_marks_say_sorti_own_pdf_and_avoir_and_the_detail_spells_them_out():
    assert str(send_cells.marks(row())) == ""
    departed = replace(row(), active=False, pdf_imported=True, kind="avoir", amount_ht=Decimal("-120.00"))
    assert str(send_cells.marks(departed)) == "SPA"
    assert len("SPA") <= next(column for column in send_cells.COLUMNS if column.key == "marks").width
    assert detail(departed)[:2] == ["MAILLY Josiane, sorti(e) | Ni envoyée ni éditée",
                                    "Courriel : j@example.org | Avoir, PDF importé"]


def test_a_queued_invoice_says_its_place_in_the_service_queue():
    waiting = replace(row(status="queued"), queue_position=3)
    assert detail(waiting, "queued")[2] == "Tuteur : aucune adresse | 3e dans la file d'envoi"
    assert detail(replace(waiting, queue_position=1), "queued")[2].endswith("| 1re dans la file d'envoi")
    assert detail(waiting, "sent")[2].endswith("| ")  # sent meanwhile: no longer in the queue


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


def test_the_places_in_the_queue_follow_the_records_order_after_those_ahead():
    assert send_detail.queue_places(4, [(31, 7), (30, 9), (32, 8)]) == {9: 5, 7: 6, 8: 7}
    assert send_detail.queue_places(0, []) == {}
