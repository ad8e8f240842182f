"""Every list of the app at 80x24: no header cut at the terminal's edge ("Derni", "Ac")."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.test_contributions import SIZE, app
from tuiapp.db.models import Structure

__all__ = ["app"]  # the fixture, used by name


def headers_on_screen(table: DataTable) -> list[str]:
    """The headers an 80-column terminal shows, asserting each is whole: its label fits its column,
    and ends inside the visible width, or the column starts past it (reached by scrolling)."""
    visible, x, shown = table.scrollable_content_region.width, 0, []
    for column in table.ordered_columns:
        label_end = x + table.cell_padding + column.label.cell_len
        assert column.width == 0 or column.label.cell_len <= column.width, f"« {column.label} » wider than its column"
        assert label_end <= visible or x >= visible, f"« {column.label} » cut at {visible} columns"
        if x < visible:
            shown.append(column.label.plain)
        x += column.get_render_width(table)
    return shown


SCREENS = {
    # keys from the home screen, the table, the headers shown whole
    "residents": (("r",), "#residents", ["Nom", "Adresses", "Structure", "Courriel"]),
    "structures": (("s",), "#structures", ["Code", "Nom", "Actifs", "Expéditeur"]),
    "invoices": (("c",), "#invoices", ["Résident", "N°", "Montant HT", "Édition"]),
    "sending": (("c", "minus", "e"), "#send-table", ["✓", "Résident", "N°", "Montant HT", "État", "Date", "+"]),
}


@pytest.mark.parametrize("name", SCREENS)
async def test_no_header_is_cut_at_80_columns(app, name):
    keys, selector, expected = SCREENS[name]
    async with app.run_test(size=SIZE) as pilot:
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        assert headers_on_screen(app.screen.query_one(selector, DataTable)) == expected


async def test_long_names_and_addresses_push_no_structure_header_past_the_edge(app):
    """A long name or sender address made "Actifs" read "Ac"."""
    Structure.create(code="SAVS-LONG", name="Service d'accompagnement à la vie sociale du Val de Lys",
                     sender_email="secretariat.facturation.savs.valdelys@association-exemple.org")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert headers_on_screen(app.screen.query_one("#structures", DataTable)) == [
            "Code", "Nom", "Actifs", "Expéditeur"]


async def test_on_a_wide_terminal_the_sending_tab_gives_the_names_the_room(app):
    from tuiapp.widgets.send_table import NAME_MAX

    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("c", "minus", "e"):
            await pilot.press(key)
            await pilot.pause()
        table = app.screen.query_one("#send-table", DataTable)
        assert table.columns[next(key for key in table.columns if key.value == "name")].width == NAME_MAX
        assert headers_on_screen(table) == SCREENS["sending"][2]
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert table.columns[next(key for key in table.columns if key.value == "name")].width == 16
        assert headers_on_screen(table) == SCREENS["sending"][2]


def test_the_import_preview_widens_the_column_before_the_one_the_edge_would_cut():
    from tuiapp.widgets.mapping_preview import fit_to_edge

    assert fit_to_edge([10, 10, 30], 40, 2) == [10, 26, 30]  # the third then starts at 40, past the edge
    assert fit_to_edge([10, 10], 40, 2) == [10, 10]  # all fit
    assert fit_to_edge([50, 10], 40, 2) == [50, 10]  # the first itself is wider than the screen
    assert fit_to_edge([10, 26, 30], 40, 2) == [10, 26, 30]  # already at the edge
