"""Textual's own words that reach the screen, in French: the descriptions of its widgets' keys that
its footer shows (the list of a ``Select``, when open, says "Dismiss menu")."""

from __future__ import annotations

WORDS = {
    "Dismiss menu": "Fermer la liste",
    "Exit the command palette": "Fermer la palette",
    "palette": "palette",
}


def in_french(text: str) -> str:
    """Textual's ``text`` in French, or ``text`` itself (tuiapp's own words are French already)."""
    return WORDS.get(text, text)
