"""Completing a file path as it is typed, from this machine's file system (the Import screen's path field).

``complete_path("~/exp")`` gives the typed text completed by one step:
``"~/exports/"`` (a folder ends with ``/``), the longest part shared by
several names, or the first of them (sorted) when they share nothing more. The
text keeps the form it was typed in (``~`` stays ``~``): a suggestion must begin
with what is on the screen.

Hidden names are offered only when the typed part starts with ``.``; names
holding control characters, or bytes that are not UTF-8, are never offered (they would reach the terminal,
and cannot be typed anyway). At most ``limit`` entries of a folder are read,
so a folder of a million files answers at once; the caller runs it off the
event loop all the same (a network folder may be slow).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from tuiapp.domain.safe_text import find_control

#: The entries read from one folder, at most: ~5 ms on a local disk.
ENTRIES_READ = 2000


def _names(folder: str, part: str, *, suffixes: tuple[str, ...] | None, limit: int) -> list[tuple[str, bool]]:
    """(name, is a folder) for the entries of ``folder`` that begin with ``part``."""
    found = []
    try:
        with os.scandir(folder or ".") as entries:
            for count, entry in enumerate(entries):
                if count >= limit:
                    break
                name = entry.name
                if not name.startswith(part) or (name.startswith(".") and not part.startswith(".")):
                    continue
                if find_control(name) is not None or not _is_utf8(name):
                    continue
                try:
                    is_dir = entry.is_dir()  # a link to a folder is one
                except OSError:
                    continue
                if not is_dir and suffixes is not None and not name.lower().endswith(suffixes):
                    continue
                found.append((name, is_dir))
    except OSError:  # no such folder, not allowed, not a folder
        return []
    return found


def _is_utf8(name: str) -> bool:
    """False for a name whose bytes are not UTF-8 (Python gives them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shared_start(names: Iterable[str]) -> str:
    return os.path.commonprefix(list(names))


def complete_path(typed: str, *, suffixes: tuple[str, ...] | None = None, limit: int = ENTRIES_READ) -> str | None:
    """``typed`` completed by one step, or None when nothing on disk continues it.

    ``suffixes``: the file endings offered (lower case, ``(".csv", ".xlsx")``); folders always
    are; ``()`` offers folders only; None, every file.
    """
    if not typed or find_control(typed) is not None:
        return None
    if typed == "~" or (typed.startswith("~") and "/" not in typed):
        home = os.path.expanduser(typed)
        return typed + "/" if home != typed and os.path.isdir(home) else None
    folder_typed, _, part = typed.rpartition("/")
    if "/" in typed:
        folder_typed += "/"
    folder = os.path.expanduser(folder_typed)
    names = _names(folder, part, suffixes=suffixes, limit=limit)
    if not names:
        return None
    if len(names) == 1:
        name, is_dir = names[0]
        completed = folder_typed + name + ("/" if is_dir else "")
        return completed if completed != typed else None
    shared = _shared_start(name for name, _ in names)
    if len(shared) > len(part):
        return folder_typed + shared
    name, is_dir = min(names)
    return folder_typed + name + ("/" if is_dir else "")
