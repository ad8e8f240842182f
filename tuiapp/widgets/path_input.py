"""A file path field that suggests the rest of the path from the file system (→ accepts)."""

from __future__ import annotations

import asyncio

from textual.suggester import Suggester

from tuiapp.services.path_completion import ENTRIES_READ, complete_path
from tuiapp.widgets.form import FormInput

#: An input's ``restrict``: no control character gets in, typed or pasted (the same characters as
#: ``tuiapp.domain.safe_text``'s): none is ever drawn, and no file name worth opening holds one.
NO_CONTROL = "[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]*"


class PathSuggester(Suggester):
    """Suggests the next step of the typed path (``tuiapp.services.path_completion``).

    Not cached (the folder changes while the screen is open) and case-sensitive (paths are);
    the folder is read in a thread, never on the event loop.
    """

    def __init__(self, *, suffixes: tuple[str, ...] | None = None, limit: int = ENTRIES_READ) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = suffixes
        self.limit = limit

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value, suffixes=self.suffixes, limit=self.limit)


class PathInput(FormInput):
    """A one-line path field: the suggestion is drawn dimmed after the cursor; → takes it."""

    def __init__(self, value: str = "", *, suffixes: tuple[str, ...] | None = None, **kwargs) -> None:
        super().__init__(value, suggester=PathSuggester(suffixes=suffixes), restrict=NO_CONTROL, **kwargs)

    def offer(self, suffixes: tuple[str, ...] | None) -> None:
        """Change which files are suggested (folders always are)."""
        assert isinstance(self.suggester, PathSuggester)
        self.suggester.suffixes = suffixes
