"""A database error on a screen: a French message, never a crash.

Locked by another workstation, read-only, disk full, a damaged page: SQLite
can refuse any read or write. The screens catch it here, at one seam:

- ``database_problem(node, exc)`` shows the French explanation and returns it;
- ``@reports_database_errors`` on an action or a handler turns the error into
  that message and leaves the screen as it was (a form keeps what was typed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from tuiapp.db.database import DATABASE_ERRORS, explain_database_error

__all__ = ["DATABASE_ERRORS", "database_message", "database_problem", "reports_database_errors"]

NOTICE_TITLE = "Base de données"
Method = TypeVar("Method", bound=Callable)


def database_message(node, exc: Exception) -> str:
    """The French sentence for this error, naming the app's database file (``node``: a widget or the app)."""
    return explain_database_error(getattr(node.app, "db_path", "?"), exc)


def database_problem(node, exc: Exception, *, prefix: str = "") -> str:
    """Notify the operator of a database error (in French); returns the text shown."""
    message = prefix + database_message(node, exc)
    node.notify(message, title=NOTICE_TITLE, severity="error", timeout=15, markup=False)
    return message


def reports_database_errors(method: Method) -> Method:
    """For a screen's action or handler: a database error becomes a notice, the screen stays."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DATABASE_ERRORS as exc:
            database_problem(self, exc)
            return None

    return guarded  # type: ignore[return-value]
