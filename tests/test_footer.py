"""The footer redraws when the keys it shows change, and only then (``tuiapp/widgets/footer.py``)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tests.test_screens import settle
from tuiapp.widgets.footer import Footer


class Tab(App[None]):
    """A sending tab in small: "Envoyer" is shown disabled until a row is ticked."""

    BINDINGS = [Binding("e", "send", "Envoyer"), Binding("l", "list", "Liste")]

    def __init__(self) -> None:
        super().__init__()
        self.ticked = False

    def compose(self) -> ComposeResult:
        yield Static("x")
        yield Footer()

    def check_action(self, action: str, parameters) -> bool | None:
        return (True if self.ticked else None) if action == "send" else True  # None: shown, disabled


async def redrawn(pilot) -> None:
    """Every message handled, then a frame: the footer rebuilds itself after a refresh."""
    await settle(pilot)
    await pilot.pause(0.2)


def shown(app: App) -> dict[str, bool]:
    """The footer's keys and whether each is enabled."""
    return {key.key: not key.has_class("-disabled") for key in app.query(FooterKey) if key.key in ("e", "l")}


async def test_the_footer_follows_the_keys_enabled_and_is_not_rebuilt_for_nothing():
    app = Tab()
    async with app.run_test(size=(80, 24)) as pilot:
        await redrawn(pilot)
        assert shown(app) == {"e": False, "l": True}
        drawn = list(app.query(FooterKey))

        app.refresh_bindings()  # the same keys: the same widgets stay
        await redrawn(pilot)
        assert list(app.query(FooterKey)) == drawn

        app.ticked = True
        app.refresh_bindings()
        await redrawn(pilot)
        assert shown(app) == {"e": True, "l": True}
        assert list(app.query(FooterKey)) != drawn


async def test_keys_that_change_during_a_rebuild_then_change_back_are_drawn_as_they_end(monkeypatch):
    """The bindings change while the old keys are being removed, and change back once the new
    ones are drawn: the footer must end on the last state (it once kept the one in between)."""
    from textual.widgets import Footer as TextualFooter

    app = Tab()
    original = TextualFooter.recompose
    plan = {"armed": False}

    async def recompose(self):
        if plan["armed"]:
            app.ticked = not app.ticked
            app.refresh_bindings()
        await original(self)
        if plan["armed"]:
            plan["armed"] = False
            app.ticked = not app.ticked
            app.refresh_bindings()

    monkeypatch.setattr(TextualFooter, "recompose", recompose)
    async with app.run_test(size=(80, 24)) as pilot:
        await redrawn(pilot)
        assert shown(app) == {"e": False, "l": True}
        plan["armed"] = True
        app.ticked = True
        app.refresh_bindings()
        await redrawn(pilot)
        await redrawn(pilot)
        assert app.ticked is True
        assert shown(app) == {"e": True, "l": True}
