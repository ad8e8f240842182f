"""The sending tab's cells: what each column shows of an invoice (no app needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tuiapp.db.queries import SendRow
from tuiapp.widgets import send_cells

MAILED = datetime(2024, 10, 3, 12, 5, tzinfo=UTC)
PRINTED = datetime(2024, 10, 1, 7, 40, tzinfo=UTC)


def row(*, mailed=None, printed=None, status=None) -> SendRow:
    return SendRow(invoice_id=1, resident="MAILLY Josiane", number="FAM-202409-001", amount_ht=Decimal("1752.00"),
                   last_mailed_at=mailed, last_printed_at=printed, email="j@example.org", guardian_email=None,
                   send_status=status, send_batch=None, send_record_id=None)


def local(moment: datetime) -> str:
    return moment.astimezone().strftime("%d/%m/%Y")  # another year than this one: the date alone


@pytest.fixture
def in_2024(monkeypatch):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2024, 12, 31, 23, 0, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(send_cells, "datetime", Frozen)


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


def test_this_years_sends_show_their_time(in_2024):
    assert shown(row(mailed=MAILED), "sent")["mailed"] == MAILED.astimezone().strftime("%d/%m %H:%M")
    assert len(shown(row(mailed=MAILED), "sent")["mailed"]) <= send_cells.COLUMNS[5].width
