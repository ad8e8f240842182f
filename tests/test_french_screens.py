"""French everywhere on screen (issue 14): every screen's footer whole at 80 columns, the palette's
words, F1's key names, and each command and key listed once."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from tests.test_hostile_data import screen_text
from tests.test_screens import SIZE, press, settle, type_text
from tuiapp.app import create_app
from tuiapp.db.database import release
from tuiapp.widgets.footer import Footer

#: From the home screen, the keys that open each screen (or window), and its class.
SCREENS = [
    ((), "HomeScreen"),
    (("c",), "ContributionsScreen"),
    (("c", "e"), "ContributionsScreen"),  # the sending tab
    (("s",), "StructuresScreen"),
    (("s", "enter"), "StructureFormScreen"),
    (("s", "n"), "StructureFormScreen"),
    (("r",), "ResidentsScreen"),
    (("r", "enter"), "ResidentFormScreen"),
    (("i",), "ImportScreen"),
    (("m",), "SmtpScreen"),
]
ENGLISH = ("esc ", "Dismiss", "Search for", "pgup", "pgdn", "shift+", "ctrl+", "Exit the")


@pytest.fixture
def app(demo_db_file):
    application = create_app(demo_db_file)
    yield application
    release()


def footer_line(app) -> str:
    return screen_text(app).split("\n")[-1]


def assert_whole(app) -> None:
    """Each key of the footer drawn whole, inside the 80 columns, with its description."""
    line = footer_line(app)
    keys = list(app.screen.query_one(Footer).query(FooterKey))
    assert keys, line
    for key in keys:
        text = f"{key.key_display} {key.description}".strip()
        assert text in line, (text, line)
        assert key.region.right <= SIZE[0] and key.region.width >= len(text), (text, key.region)
    for word in ENGLISH:
        assert word not in line, (word, line)


@pytest.mark.parametrize(("keys", "screen"), SCREENS, ids=["+".join(keys) or "home" for keys, _ in SCREENS])
async def test_every_screens_footer_is_whole_at_80_columns(app, keys, screen):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, *keys)
        await app.workers.wait_for_complete()
        await settle(pilot)
        await pilot.pause(0.2)  # the footer rebuilds after a refresh
        assert app.screen.__class__.__name__ == screen
        assert_whole(app)
        if screen != "SmtpScreen":  # (a window: its own keys)
            assert "F1 Aide" in footer_line(app)


async def test_the_home_footer_holds_every_key_and_the_palette(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        line = footer_line(app)
        for text in ("c Contributions", "s Structures", "r Résidents", "i Import", "m SMTP", "F1 Aide", "^p palette"):
            assert text in line, (text, line)


async def test_an_open_list_says_how_to_close_it_in_french(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "m")
        app.screen.query_one("#smtp_security").focus()
        await press(pilot, "enter")  # the list opens
        await pilot.pause(0.2)
        assert "Échap Fermer la liste" in footer_line(app)
        assert_whole(app)


async def test_the_palette_speaks_french_and_lists_each_command_once(app):
    async with app.run_test(size=SIZE) as pilot:
        for keys in ((), ("s",)):  # the home screen, and the structures' (its key m is the SMTP window's)
            await press(pilot, *keys, "ctrl+p")
            await app.workers.wait_for_complete()
            await settle(pilot)
            shown = screen_text(app)
            assert "Rechercher une commande ou un écran…" in shown and "Search for commands" not in shown
            beneath = app.screen_stack[-2]  # the screen the palette was opened on
            titles = [command.title for command in app.get_system_commands(beneath)]
            assert len(titles) == len(set(titles)), titles
            for title in ("Structures", "Résidents", "Serveur SMTP", "Quitter"):
                assert titles.count(title) == 1, (title, titles)
            assert "SMTP" not in titles  # the home screen's key m: the same command as Serveur SMTP
            await press(pilot, "escape")
        await press(pilot, "ctrl+p")
        await type_text(pilot, "Nouvelle")  # a structures screen's own key is still there
        await app.workers.wait_for_complete()
        await settle(pilot)
        await press(pilot, "enter")
        assert app.screen.__class__.__name__ == "StructureFormScreen"


async def test_f1_names_the_keys_in_french_and_lists_quitter_once(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "f1")
        text = str(app.screen.query_one("#help-text").render())
        lines = text.split("\n")
        assert [line for line in lines if line.rstrip().endswith("Quitter")] == [
            next(line for line in lines if line.startswith("q, Ctrl+Q"))]
        for words in ("Ctrl+P", "Pg préc Pg suiv", "Tab, Maj+Tab", "F1"):
            assert words in text, words
        for word in ("pgup", "pgdn", "shift+tab", "ctrl+", "escape"):
            assert word not in text, word
        await press(pilot, "escape", "s", "f1")
        text = str(app.screen.query_one("#help-text").render())
        assert "Échap" in text and "Entrée" in text and "esc " not in text
