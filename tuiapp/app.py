"""The Textual application and its factory, shared by the CLI and the tests."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from tuiapp.db.database import open_database
from tuiapp.db.models import Association
from tuiapp.screens.home import HomeScreen


class TuiApp(App[None]):
    """tuiapp's terminal interface, on one open database."""

    TITLE = "tuiapp"
    BINDINGS = [Binding("ctrl+q", "quit", "Quitter", id="app.quit", show=False, priority=True)]

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self.db_path = db_path

    def on_mount(self) -> None:
        self.title = Association.get_solo().name or "tuiapp"
        self.sub_title = str(self.db_path)
        # Pushed rather than returned by get_default_screen(): a default screen's
        # CSS_PATH is not loaded (seen with Textual 8.2).
        self.push_screen(HomeScreen())


def create_app(db_path: Path, *, create: bool = True) -> TuiApp:
    """Open the database (schema brought up to date) and build the app on it."""
    open_database(db_path, create=create)
    return TuiApp(Path(db_path))
