"""The sending tab at 80x24: the detail lines under the cursor, search (/, F3), the next unsent (g)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.test_contributions import SEPTEMBER, SIZE, app, detail_lines, open_september_sending_tab, panel
from tuiapp.db import queries
from tuiapp.db.models import Invoice
from tuiapp.widgets.help import keys_of

__all__ = ["app"]  # the fixture, used by name


def current_name(sending) -> str:
    row = sending.table.current_invoice()
    assert row is not None
    return row.resident


def notices(app) -> list[str]:
    return [notice.message for notice in app._notifications]


async def search(pilot, text: str) -> None:
    await pilot.press("slash", *text, "enter")
    await pilot.pause()


async def test_the_detail_lines_show_the_row_under_the_cursor_and_follow_it(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        lines = detail_lines(sending)
        assert lines[0].startswith("ANDRÉ Éric ") and lines[0].endswith("Ni envoyée ni éditée")
        assert lines[1].startswith("Courriel : aucune adresse ") and lines[1].endswith("Facture, PDF généré")
        assert lines[2] == "Tuteur : majeurs.proteges@udaf-nord.example.org"
        await pilot.press("down")
        lines = detail_lines(sending)
        assert lines[0].startswith("ANDRÉ Ginette ") and lines[1].startswith("Courriel : ginette.andre@example.com ")
        # both addresses, each whole, even where they would not fit side by side in 78 columns
        await search(pilot, "FAM-202409-006")
        lines = detail_lines(sending)
        assert lines[0].startswith("DE LA FONTAINE Éric ")
        assert lines[1].startswith("Courriel : eric.delafontaine@example.com ") and lines[1].endswith(" PDF généré")
        assert lines[2] == "Tuteur : pierre.delafontaine84@example.net"


async def test_the_detail_gives_the_full_date_and_time_of_the_last_send(app):
    row = queries.send_rows(SEPTEMBER)[2]
    mailed = datetime(2024, 10, 3, 9, 30, tzinfo=UTC)
    Invoice.update(last_mailed_at=mailed).where(Invoice.id == row.invoice_id).execute()
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("down", "down")
        assert current_name(sending) == row.resident
        assert detail_lines(sending)[0].endswith(f"Envoyée le {mailed.astimezone():%d/%m/%Y à %H:%M}")
        table = sending.table
        assert str(table.get_cell(str(row.invoice_id), "mailed")) == f"{mailed.astimezone():%d/%m/%y}"


async def test_slash_searches_a_name_or_a_number_and_f3_finds_the_next_round_to_the_top(app):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await search(pilot, "bonnet")  # case and accents ignored
        assert current_name(sending) == "BONNET Christine" and sending.table.has_focus
        assert not sending.query_one("#send-search").display  # closed once found
        await pilot.press("f3")
        assert current_name(sending) == "BONNET Daniel"
        await pilot.press("f3", "f3")
        assert current_name(sending) == "BONNET Christine"  # after the last, round to the first
        assert detail_lines(sending)[0].startswith("BONNET Christine ")
        await search(pilot, "202409-041")  # a part of an invoice number: two structures have it
        assert sending.table.current_invoice().number == "FAM-202409-041"  # BONNET Daniel, first by name
        await pilot.press("f3")
        assert sending.table.current_invoice().number == "EHPAD-202409-041"
        await search(pilot, "fam-202409-041")
        await pilot.press("f3")
        assert sending.table.current_invoice().number == "FAM-202409-041"
        assert notices(app)[-1] == "Aucune autre facture ne correspond à « fam-202409-041 »."


async def test_a_search_that_finds_nothing_stays_open_and_escape_closes_it(app):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await search(pilot, "zzz")
        assert notices(app)[-1] == "Aucune facture ne correspond à « zzz »."
        field = sending.query_one("#send-search")
        assert field.display and field.has_focus and current_name(sending) == "ANDRÉ Éric"
        await pilot.press("escape")  # closes the search, not the screen
        assert not field.display and sending.table.has_focus
        assert app.screen.query("SendingPanel")
        await pilot.press("slash")
        assert field.value == "" and field.has_focus  # a new search


async def test_g_jumps_to_the_next_invoice_not_yet_mailed(app):
    rows = queries.send_rows(SEPTEMBER)
    mailed = datetime(2024, 10, 3, 9, 30, tzinfo=UTC)
    sent = [rows[0], rows[1], rows[3]]
    Invoice.update(last_mailed_at=mailed).where(Invoice.id.in_([row.invoice_id for row in sent])).execute()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("g")
        assert current_name(sending) == rows[2].resident
        await pilot.press("g")
        assert current_name(sending) == rows[4].resident
        sending.table.move_cursor(row=sending.table.row_count - 1)
        await pilot.press("g")
        assert current_name(sending) == rows[2].resident  # round to the top, past the mailed ones


async def test_g_says_when_every_other_invoice_was_mailed(app):
    rows = queries.send_rows(SEPTEMBER)
    Invoice.update(last_mailed_at=datetime(2024, 10, 3, 9, 30, tzinfo=UTC)).where(
        Invoice.id.in_([row.invoice_id for row in rows[1:]])).execute()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        await pilot.press("g")
        assert current_name(sending) == rows[0].resident
        assert notices(app)[-1] == "Aucune autre facture à envoyer : toutes les autres ont été envoyées."


async def test_the_new_keys_clash_with_none_and_f1_lists_them_in_french(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        keys = dict(keys_of(app.screen, app))
        assert keys["/"] == "Chercher" and keys["F3"] == "Suivante (recherche)"
        assert keys["g"] == "Prochaine non envoyée"
        # the tab's own keys keep their meaning
        assert keys["e"] == "Envoyer" and keys["Espace"] == "Cocher" and keys["a"] == "Toutes"
        bound = [key for panel_binding in panel(app).BINDINGS for key in panel_binding.key.split(",")]
        assert not {"slash", "f3", "g"} & set(bound)


async def test_a_search_reaches_a_row_not_drawn_yet(app, monkeypatch):
    """The rows are drawn a screenful at once, the rest in chunks: a match among the rest is drawn first."""
    from tuiapp.widgets import send_table

    monkeypatch.setattr(send_table, "FIRST_ROWS", 5)
    monkeypatch.setattr(send_table, "MORE_ROWS", 0)  # the rest never drawn by the chunks
    last = queries.send_rows(SEPTEMBER)[-1]
    async with app.run_test(size=SIZE) as pilot:
        await open_september_sending_tab(pilot)
        sending = panel(app)
        assert not sending.loaded
        await search(pilot, last.number)
        assert sending.table.current_invoice() == last and sending.loaded
        assert detail_lines(sending)[0].startswith(last.resident)
