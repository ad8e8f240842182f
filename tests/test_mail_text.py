"""The mail's text (a structure's Mail tab) edits as in a word processor (issue 14): Ctrl+A selects it
all, Ctrl+Début and Ctrl+Fin reach its start and its end; the one-line fields keep Textual's keys;
F1 lists both."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from tests.test_screens import SIZE, press, settle, type_text
from tuiapp.app import create_app
from tuiapp.db.database import release
from tuiapp.db.models import Structure


@pytest.fixture
def app(demo_db_file):
    application = create_app(demo_db_file)
    yield application
    release()


async def open_mail_text(pilot) -> TextArea:
    await press(pilot, "s", "enter")  # an existing structure opens on its Mail tab
    body = pilot.app.screen.query_one("#body_template", TextArea)
    body.focus()
    await settle(pilot)
    return body


async def test_ctrl_home_and_ctrl_end_reach_the_start_and_the_end_of_the_text(app):
    async with app.run_test(size=SIZE) as pilot:
        body = await open_mail_text(pilot)
        assert body.document.line_count > 3
        body.move_cursor((2, 3))
        await press(pilot, "ctrl+end")
        assert body.cursor_location == body.document.end
        await type_text(pilot, "Fin.")
        assert body.text.endswith("Fin.")
        await press(pilot, "ctrl+home")
        assert body.cursor_location == (0, 0)
        await type_text(pilot, "Début. ")
        assert body.text.startswith("Début. ")


async def test_ctrl_a_selects_the_whole_text_and_typing_replaces_it(app):
    async with app.run_test(size=SIZE) as pilot:
        body = await open_mail_text(pilot)
        body.move_cursor((1, 0))
        await press(pilot, "ctrl+a")
        assert body.selected_text == body.text
        await type_text(pilot, "Bonjour &personne.")
        assert body.text == "Bonjour &personne."
        await press(pilot, "ctrl+s")
    assert Structure.get(Structure.code == "EHPAD").body_template == "Bonjour &personne."


async def test_a_one_line_field_keeps_textuals_keys(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_mail_text(pilot)
        field = app.screen.query_one("#sender_name", Input)
        field.focus()
        await settle(pilot)
        value = field.value
        await press(pilot, "ctrl+a")  # the start of the field, nothing selected
        assert field.cursor_position == 0 and field.selection.is_empty
        await press(pilot, "ctrl+e")
        assert field.cursor_position == len(value)


async def test_f1_lists_the_keys_of_both_kinds_of_fields(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_mail_text(pilot)
        await press(pilot, "f1")
        text = str(app.screen.query_one("#help-text").render())
        for line in ("Texte du mail : tout sélectionner", "Ctrl+Début, Ctrl+Fin", "Champ d'une ligne : aller au début",
                     "Fin, Ctrl+E"):
            assert line in text, line
