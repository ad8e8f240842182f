"""Control characters: refused at the door, replaced on the way out.

A text read from the database, a file or a server may hold terminal codes
(ESC sequences that clear the screen, set the window title or the
clipboard), NUL, bidirectional overrides that reorder what the operator
reads, or line separators. Validation refuses them (``find_control``); every
text shown by the CLI or the TUI passes ``printable``, which replaces them
with U+FFFD, whatever the text's source.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

# C0 and C1 controls, DEL, the bidirectional embeddings/overrides and
# isolates, the line and paragraph separators.
_OTHERS = "\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_CONTROL = re.compile(f"[\x00-\x1f{_OTHERS}]")
# Multi-line texts (a mail body) keep their line feeds and tabs.
_CONTROL_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")


def find_control(text: str, *, multiline: bool = False) -> str | None:
    """The first forbidden character of ``text``, or ``None``."""
    match = (_CONTROL_MULTILINE if multiline else _CONTROL).search(text)
    return match.group() if match else None


def describe_char(char: str) -> str:
    """How a refused character is named in a French message (``U+001B``)."""
    names = {"\n": "retour à la ligne", "\r": "retour chariot", "\t": "tabulation", "\x1b": "échappement (ESC)",
             "\x00": "caractère nul (NUL)", "\x07": "sonnerie (BEL)", "\u2028": "séparateur de ligne",
             "\u2029": "séparateur de paragraphe"}
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return f"contrôle du sens d'écriture, U+{ord(char):04X}"
    code = f"U+{ord(char):04X}"
    return f"{names[char]}, {code}" if char in names else code


def printable(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control character replaced by U+FFFD (line feeds and
    tabs kept when ``multiline``)."""
    return (_CONTROL_MULTILINE if multiline else _CONTROL).sub(REPLACEMENT, str(text))
