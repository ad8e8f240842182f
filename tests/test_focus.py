"""Every form and window opens on its first field, the cursor at the end of its text, nothing selected
(issue 14): the first key typed goes to that field and replaces nothing ("MAILLY" became "X")."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.test_screens import SIZE, press, settle
from tuiapp.app import create_app
from tuiapp.db.database import release
from tuiapp.widgets.dialogs import TextPromptScreen


@pytest.fixture
def app(demo_db_file):
    application = create_app(demo_db_file)
    yield application
    release()


async def assert_opens_on(pilot, field_id: str, typed: str = "X") -> None:
    """The focus on ``field_id``, the cursor after its text, nothing selected; a key adds to the text."""
    field = pilot.app.screen.query_one(f"#{field_id}", Input)
    assert pilot.app.focused is field, (field_id, pilot.app.focused)
    before = field.value
    assert field.cursor_position == len(before), field_id
    assert field.selection.is_empty, (field_id, field.selection)
    await press(pilot, typed)
    assert field.value == before + typed, field_id


async def test_a_residents_form_keeps_the_surname_when_a_key_is_typed(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "r", "/")
        await press(pilot, *"MAILLY", "enter", "enter")  # the search, then the resident found
        assert app.screen.__class__.__name__ == "ResidentFormScreen"
        assert app.screen.query_one("#last_name", Input).value == "MAILLY"
        await assert_opens_on(pilot, "last_name")
        assert app.screen.query_one("#last_name", Input).value == "MAILLYX"


async def test_a_new_resident_opens_on_the_surname(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "r", "n")
        await assert_opens_on(pilot, "last_name")


async def test_a_structure_opens_on_its_first_field(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "s", "enter")  # an existing structure: its Mail tab, the sender's address
        field = app.screen.query_one("#sender_email", Input)
        assert field.value
        await assert_opens_on(pilot, "sender_email", "z")
        await press(pilot, "escape", "o", "n")  # (the change dropped) a new structure: its code
        assert app.screen.__class__.__name__ == "StructureFormScreen"
        await assert_opens_on(pilot, "code")


async def test_the_import_screen_opens_on_the_path(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "i")
        await assert_opens_on(pilot, "path", "/")


async def test_a_prompt_opens_with_its_answer_unselected(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(TextPromptScreen("Nom du profil ?", "Logiciel A"))
        await settle(pilot)
        await assert_opens_on(pilot, "prompt-answer", "B")


async def test_ctrl_z_gives_back_the_text_before_the_last_keys(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "r", "/")
        await press(pilot, *"MAILLY", "enter", "enter")
        field = app.screen.query_one("#last_name", Input)
        await press(pilot, "X", "backspace", "backspace")
        assert field.value == "MAILL"
        await press(pilot, "ctrl+z")
        assert field.value == "MAILLY"
        await press(pilot, "ctrl+z", "ctrl+z")
        assert field.value == "MAILLY" and field.cursor_position == len("MAILLY")  # nothing before: stays
        await press(pilot, "f1")
        assert "Ctrl+Z" in str(app.screen.query_one("#help-text").render())
