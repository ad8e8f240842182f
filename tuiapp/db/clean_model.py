"""The base of the models that check their values on ``save()``, and the small rules they share.

Each model lists its checks in ``rules()``; ``clean()`` runs them all and raises one
``ValidationError`` that names every refused field (the forms show each beside its field).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from peewee import SQL, Check, NodeList

from tuiapp.db.database import BaseModel
from tuiapp.domain import templates
from tuiapp.domain.errors import ValidationError

#: A check of one field: returns its clean value, or raises ``ValidationError``.
Rule = Callable[[], object]


def reads_database(rule: Rule) -> Rule:
    """Marks a rule that queries the database (uniqueness, a referenced row): ``clean(offline=True)``
    skips it, for an import that checks those against what it read in bulk."""
    rule.reads_database = True  # type: ignore[attr-defined]
    return rule


def sql_list(values) -> str:
    return ", ".join(repr(str(value)) for value in values)


def in_values(column: str, values) -> SQL | NodeList:
    return Check(f"{column} IN ({sql_list(values)})")


class CleanModel(BaseModel):
    """A model checked on ``save()``. Bulk ``update()``/``insert()`` bypass it: use them
    only with values already checked."""

    def rules(self) -> Iterator[tuple[str, Rule]]:
        """The checks, in order: (field, rule); the rule's value becomes the field's."""
        return iter(())

    def clean(self, *, offline: bool = False) -> None:
        """Normalise and check every field; raise one ``ValidationError`` that lists every problem.

        A field's later rules are skipped once one refused it (they expect a clean value).
        ``offline``: without the rules that query the database (the caller checks those itself).
        """
        refused: set[str] = set()
        problems: list[ValidationError] = []
        for field, rule in self.rules():
            if field in refused or offline and getattr(rule, "reads_database", False):
                continue
            try:
                value = rule()
            except ValidationError as exc:
                refused.update((field, exc.field))
                problems.append(exc)
            else:
                setattr(self, field, value)
        if problems:
            raise ValidationError.every(problems)

    def _unique(self, field, value, label: str):
        query = type(self).select().where(field == value)
        if self.id is not None:
            query = query.where(type(self).id != self.id)
        if query.exists():
            raise ValidationError(field.name, label, f"« {value} » existe déjà.")
        return value

    def save(self, *args, **kwargs):
        self.clean()
        return super().save(*args, **kwargs)


def between(value, low: int, high: int, field: str, label: str, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, label, message)
    return value


def one_of(value, choices, field: str, label: str, message: str) -> str:
    if value not in choices:
        raise ValidationError(field, label, message)
    return value


def known_keywords(text: str, field: str, label: str) -> str:
    unknown = templates.find_unknown_keywords(text)
    if unknown:
        message = "; ".join(keyword.message for keyword in unknown)
        raise ValidationError(field, label, message if message.endswith("?") else message + ".")
    return text
