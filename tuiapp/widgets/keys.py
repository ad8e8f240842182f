"""The keys' names in French: short in the footer (``^s``, ``Échap``), whole in F1 (``Ctrl+S``, ``Maj+Tab``).

Textual names them in English (``esc``, ``pgup``, ``shift+tab``); the app's
``get_key_display`` and the F1 window ask here instead.
"""

from __future__ import annotations

from textual.keys import format_key

#: Key names as a French keyboard prints them (F1 and the footer alike).
NAMES = {
    "escape": "Échap", "enter": "Entrée", "space": "Espace", "tab": "Tab", "backspace": "Retour arrière",
    "delete": "Suppr", "insert": "Inser", "home": "Début", "end": "Fin", "pageup": "Pg préc", "pagedown": "Pg suiv",
    "up": "↑", "down": "↓", "left": "←", "right": "→",
}
#: The footer's shorter forms, where they differ.
SHORT = {"enter": "⏎", "backspace": "⌫", "pageup": "PgPréc", "pagedown": "PgSuiv"}
MODIFIERS = {"ctrl": "Ctrl", "shift": "Maj", "alt": "Alt", "meta": "Méta", "super": "Super"}


def _parts(key: str) -> tuple[list[str], str]:
    *modifiers, name = key.split("+") if key != "+" else ["+"]
    return modifiers, name


def _name(name: str, names: dict[str, str]) -> str:
    if name in names:
        return names[name]
    if len(name) > 1 and name[0] == "f" and name[1:].isdigit():
        return name.upper()  # F1 ... F24
    return format_key(name)  # a character: "/", "-", "é" ...


def key_name(key: str) -> str:
    """One key in full, for F1: ``ctrl+q`` → ``Ctrl+Q``, ``shift+tab`` → ``Maj+Tab``, ``pageup`` → ``Pg préc``."""
    modifiers, name = _parts(key)
    shown = _name(name, NAMES)
    if modifiers and len(shown) == 1:
        shown = shown.upper()  # Ctrl+Q, as a keyboard prints the letter
    return "+".join([*(MODIFIERS.get(modifier, modifier) for modifier in modifiers), shown])


def short_key_name(key: str) -> str:
    """One key for the footer: Ctrl as ``^`` (``^s``), the rest in French (``Échap``, ``Maj+Tab``)."""
    modifiers, name = _parts(key)
    shown = _name(name, {**NAMES, **SHORT})
    if "ctrl" in modifiers:
        modifiers.remove("ctrl")
        shown = f"^{shown}"
    return "+".join([*(MODIFIERS.get(modifier, modifier) for modifier in modifiers), shown])
