"""``tuiapp import pdfs FOLDER``: the billing software's own PDFs attached to their invoices."""

from __future__ import annotations


def register(kinds) -> None:
    """Adds ``pdfs`` to the ``import`` command's subcommands (``kinds``)."""
