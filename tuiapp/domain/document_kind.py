"""What a billing document is: an invoice (*facture*) or a credit note (*avoir*)."""

from __future__ import annotations

from enum import StrEnum


class DocumentKind(StrEnum):
    FACTURE = "facture"
    AVOIR = "avoir"

    @property
    def word(self) -> str:
        """The word in a sentence (``&document``): « facture », « avoir »."""
        return self.value

    @property
    def heading(self) -> str:
        """The word at the head of a page or a file name: « Facture », « Avoir »."""
        return self.value.capitalize()

    @classmethod
    def of(cls, value: object) -> DocumentKind:
        """A stored kind; anything unknown is an invoice (the column's default)."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.FACTURE
