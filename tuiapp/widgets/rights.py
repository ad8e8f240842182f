"""What this account may not do, as the screens show it: a dimmed key, and why when it is pressed.

A screen or widget lists the rights its actions need (``{"new": Action.EDIT_STRUCTURES}``),
answers ``check_action`` with ``dimmed_unless_allowed`` and offers ``refused(action)``: the
app (``TuiApp.run_action``) shows that French reason when a dimmed key, a footer click or
the command palette reaches the action anyway, rather than doing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.dom import DOMNode

from tuiapp.domain.roles import Action


def refusal_for(node: DOMNode, action: Action) -> str | None:
    """None when the app's account may do it (an app without roles: everything)."""
    ask = getattr(node.app, "refusal", None)
    return ask(action) if ask is not None else None


def refused_action(node: DOMNode, rights: Mapping[str, Action], action: str) -> str | None:
    """Why ``action`` (a Textual action's name) is refused to this account, or None."""
    needed = rights.get(action)
    return None if needed is None else refusal_for(node, needed)


def refuse(node: DOMNode, reason: str) -> None:
    node.app.notify(reason, title="Non autorisé", severity="warning", timeout=8)
