"""The SMTP window's "changed?" question: the password typed counts, though it is kept apart from the settings."""

from __future__ import annotations

import pytest

from tuiapp.app import create_app
from tuiapp.db.database import db

SIZE = (80, 24)


@pytest.fixture
def app(demo_db_file):
    application = create_app(demo_db_file)
    yield application
    db.close()


async def _open_smtp(pilot) -> None:
    await pilot.press("m")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert pilot.app.screen.__class__.__name__ == "SmtpScreen"


async def test_an_untouched_smtp_window_closes_at_once(app):
    async with app.run_test(size=SIZE) as pilot:
        await _open_smtp(pilot)
        assert not app.screen.dirty
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.__class__.__name__ != "SmtpScreen"


async def test_a_password_typed_alone_asks_before_closing(app):
    async with app.run_test(size=SIZE) as pilot:
        await _open_smtp(pilot)
        app.screen.query_one("#password").focus()
        await pilot.pause()
        await pilot.press(*"secret")
        assert app.screen.dirty
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "SmtpScreen"
        assert app.screen.query_one("#password").value == "secret"  # nothing lost
