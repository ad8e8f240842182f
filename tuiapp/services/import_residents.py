"""``tuiapp import residents``: the billing software's residents, matched on its resident ID.

Each row is checked by ``Resident.clean()`` (the rules of the resident form: names, e-mail
addresses, no control character), its structure found by code or by name, its ID unique in
the file. A row that changes nothing is not written. All or nothing: one transaction,
every problem reported, nothing written if there is one.

Only the resident ID's column is required. A column the file does not have leaves the field
as it is (an existing resident keeps its guardian when the file has no guardian column); an
empty *Actif* cell too (new: active). A new resident needs a structure and a name: a file
without those columns can only update.

A resident typed by hand has no ID: the first import that brings one for the same name in the
same structure gives it to that resident (said in a note) rather than making a second one; two
such residents of that name are a problem (which one is it?).

The guardian's relation and the way of paying are read leniently (``domain.identifiers``:
*Curatelle renforcée*, *Nièce*, *Prélèvement SEPA*, *Virement bancaire*...). A value still not
understood does not refuse the file: that field is left as it is (a new resident: not said,
no direct debit) and a French warning names the line and the value (``ImportResult.notes``).
"""

from __future__ import annotations

from typing import Any

from tuiapp.db.database import fold
from tuiapp.db.models import Resident, Structure
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.identifiers import read_direct_debit, read_relation
from tuiapp.domain.templates import person_name
from tuiapp.services.import_files import Row, Table
from tuiapp.services.import_mapping import fields_for, fold_header, mapping_problems
from tuiapp.services.import_report import WARNING_PREFIX, ImportResult, Problem
from tuiapp.services.import_rows import (
    Cells,
    Progress,
    Ticker,
    dicts,
    insert_all,
    problem,
    problems_of,
    refuse_or_write,
    transaction,
    tuples,
    update_all,
)

#: What the file may set, as Resident's fields.
TEXT_FIELDS = ("last_name", "first_name", "email", "guardian_name", "guardian_email", "address",
               "guardian_relation", "guardian_address")
COMPARED = ("structure", "external_id", "active", "direct_debit", *TEXT_FIELDS)
#: Fields a new resident must have (an existing one keeps its own when the file lacks the column).
NEEDED_BY_NEW = ("structure", "last_name")
_YES = {"oui", "o", "1", "vrai", "true", "yes", "y", "x", "actif", "active", "present", "presente"}
_NO = {"non", "n", "0", "faux", "false", "no", "inactif", "inactive", "absent", "absente", "sorti", "sortie"}
_NEW = {"first_name": "", "email": None, "guardian_name": "", "guardian_email": None, "active": True,
        "address": "", "guardian_relation": "", "guardian_address": "", "direct_debit": False}
#: A value read leniently but not understood: the warning's end, by field.
_NOT_UNDERSTOOD = {
    "guardian_relation": "lien non reconnu (tuteur, curateur, mandataire judiciaire ou famille attendu) : "
                         "laissé tel quel, à choisir sur la fiche du résident.",
    "direct_debit": "mode de règlement non reconnu (oui, non, prélèvement, virement, chèque attendu) : "
                    "prélèvement laissé tel quel, à régler sur la fiche du résident.",
}


class _Structures:
    """The structures, found by code (any case) or by name (case and accents ignored)."""

    def __init__(self) -> None:
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        for structure_id, code, name in tuples(Structure.select(Structure.id, Structure.code, Structure.name)):
            self.by_code[code.upper()] = structure_id
            self.by_name.setdefault(fold(name.strip()), []).append(structure_id)

    def find(self, text: str) -> int | str:
        """The structure's id, or why not (French)."""
        key = text.strip()
        if not key:
            return "ce champ est obligatoire."
        named = self.by_name.get(fold(key), [])
        if key.upper() in self.by_code:
            if any(structure_id != self.by_code[key.upper()] for structure_id in named):
                return "c'est le code d'une structure et le nom d'une autre : donnez le code de la bonne."
            return self.by_code[key.upper()]
        if len(named) == 1:
            return named[0]
        if named:
            return "plusieurs structures portent ce nom : donnez son code."
        codes = ", ".join(sorted(self.by_code)) or "aucune : créez d'abord les structures"
        return f"structure inconnue (codes : {codes})."


def _name_key(values: dict) -> tuple:
    return values["structure"], fold(values["last_name"].strip()), fold((values["first_name"] or "").strip())


def _active(text: str, yes: set[str] = _YES, no: set[str] = _NO) -> bool | None:
    """True, False, or None for an empty cell; ValueError otherwise."""
    word = fold_header(text)
    if not word:
        return None
    if word in yes:
        return True
    if word in no:
        return False
    raise ValueError(text)


def _existing() -> dict[str, dict]:
    query = Resident.select(Resident.id, Resident.structure, *(getattr(Resident, name) for name in COMPARED[1:]))
    return {row["external_id"]: row for row in dicts(query.where(Resident.external_id.is_null(False)))}


def import_residents(table: Table, mapping: dict[str, int], *, dry_run: bool = False,
                     progress: Progress | None = None) -> ImportResult:
    """Creates and updates the residents of ``table`` under ``mapping`` ({field: column})."""
    result = ImportResult("residents", dry_run=dry_run)
    result.problems.extend(mapping_problems(table.headers, "residents", mapping))
    if result.problems:
        return result
    ticker = Ticker(progress, len(table.rows))
    with transaction(dry_run) as txn:
        checker = _Checker(Cells(table, mapping))
        created: list[dict] = []
        updated: list[tuple[int, dict]] = []
        for row in table.rows:
            ticker.tick()
            values, problems = checker.check(row)
            if problems:
                result.problems.extend(problems)
                continue
            current = checker.existing.get(values["external_id"])
            if current is None:
                adopted = checker.adopt(values, row.line)
                if isinstance(adopted, Problem):
                    result.problems.append(adopted)
                elif adopted is not None:
                    updated.append(adopted)
                    result.notes.append(f"{person_name(values['last_name'], values['first_name'])}, saisi(e) sans "
                                        f"n° résident, reçoit le n° {values['external_id']} (ligne {row.line}).")
                else:
                    created.append(values)
            elif any(current[name] != values[name] for name in COMPARED):
                updated.append((current["id"], values))
            else:
                result.unchanged += 1
        result.problems[:0] = checker.missing_columns()
        result.notes.extend(checker.warnings)
        result.created, result.updated = len(created), len(updated)
        ticker.finish()

        def write() -> None:
            insert_all(Resident, created)
            update_all(Resident, updated)

        return refuse_or_write(result, txn, write)


class _Checker:
    def __init__(self, cells: Cells) -> None:
        self.cells = cells
        self.existing, self.structures = _existing(), _Structures()
        self.seen: dict[str, int] = {}
        #: Columns the file lacks that a new resident needs: field -> the lines of new residents.
        self.missing: dict[str, list[int]] = {name: [] for name in NEEDED_BY_NEW if not cells.has(name)}
        #: Residents without an ID (typed by hand), by structure and folded name.
        self.unnumbered: dict[tuple, list[dict]] = {}
        query = Resident.select(Resident.id, *(getattr(Resident, name) for name in COMPARED))
        for resident in dicts(query.where(Resident.external_id.is_null())):
            self.unnumbered.setdefault(_name_key(resident), []).append(resident)
        self.rows: dict[tuple, int] = {}  # the line of the file that took each of them
        #: French lines for values not understood (the field left as it is), in the file's order.
        self.warnings: list[str] = []
        #: The fields of the row last checked whose value was not understood (``adopt`` keeps the resident's).
        self.unread: set[str] = set()

    def adopt(self, values: dict, line: int = 0) -> tuple[int, dict] | Problem | None:
        """The resident typed by hand that this new ID is (same structure, same name): its id and
        its values with what the file gives; a problem when two of them have that name."""
        if "structure" not in values or "last_name" not in values:  # a new resident the file cannot make
            return None
        key = _name_key(values)
        found = self.unnumbered.get(key, [])
        if not found:
            return None
        where = (self.cells.header("external_id"), values["external_id"])
        if len(found) > 1:
            return Problem(line, *where, f"{len(found)} résidents « {person_name(values['last_name'], values['first_name'])} » "
                           "de cette structure n'ont pas de n° résident : donnez-le à celui qui convient (fiche "
                           "du résident), puis importez de nouveau.")
        if key in self.rows:
            return Problem(line, *where, f"« {person_name(values['last_name'], values['first_name'])} », saisi(e) sans "
                           f"n° résident, est déjà celui ou celle de la ligne {self.rows[key]}.")
        self.rows[key] = line
        resident = found[0]
        given = {name for name in COMPARED
                 if name == "external_id" or (self.cells.has(name) and name not in self.unread)}
        return resident["id"], {**{name: resident[name] for name in COMPARED},
                                **{name: values[name] for name in given}}

    def missing_columns(self) -> list[Problem]:
        labels = {item.name: item.label for item in fields_for("residents")}
        problems = []
        for name, lines in self.missing.items():
            if lines:
                shown = ", ".join(str(line) for line in lines[:5]) + (", …" if len(lines) > 5 else "")
                problems.append(Problem(0, labels[name], "", f"colonne absente, obligatoire pour un nouveau "
                                        f"résident ({len(lines)} dans ce fichier : lignes {shown}) : désignez-la si elle porte "
                                        f"un autre nom (champ {name})."))
        return problems

    def _not_understood(self, row: Row, name: str) -> None:
        """A value not understood: the field keeps what it has, and a warning says so."""
        self.unread.add(name)
        self.warnings.append(f"{WARNING_PREFIX}, " + str(Problem(row.line, self.cells.header(name),
                                                             self.cells.get(row, name), _NOT_UNDERSTOOD[name])))

    def check(self, row: Row) -> tuple[dict, list[Problem]]:
        """The row's clean values (Resident's fields), or its problems."""
        cells = self.cells
        where = {name: (cells.header(name), cells.get(row, name)) for name in ("external_id", "structure",
                                                                                 *TEXT_FIELDS)}
        problems: list[Problem] = []
        key = cells.get(row, "external_id").strip()
        if not key:
            problems.append(problem(row.line, cells.header("external_id"), "", "le n° résident est obligatoire "
                                    "(les résidents sont retrouvés par lui)."))
        elif key in self.seen:
            problems.append(problem(row.line, cells.header("external_id"), key,
                                    f"ce n° résident est déjà ligne {self.seen[key]}."))
        else:
            self.seen[key] = row.line
        current = self.existing.get(key)
        lacking = set() if current else {name for name in self.missing if key}
        for name in lacking:
            self.missing[name].append(row.line)
        values: dict[str, Any] = {name: current[name] for name in COMPARED} if current else dict(_NEW)
        values["external_id"] = key
        for name in TEXT_FIELDS:
            if cells.has(name) and name != "guardian_relation":
                values[name] = cells.get(row, name)
        self.unread = set()
        if cells.has("guardian_relation"):
            relation = read_relation(cells.get(row, "guardian_relation"))
            if relation is None:
                self._not_understood(row, "guardian_relation")
            else:
                values["guardian_relation"] = relation
        if cells.has("structure"):
            structure = self.structures.find(cells.get(row, "structure"))
            if isinstance(structure, str):
                problems.append(problem(row.line, *where["structure"], structure))
            else:
                values["structure"] = structure
        try:
            active = _active(cells.get(row, "active"))
        except ValueError:
            problems.append(problem(row.line, cells.header("active"), cells.get(row, "active"),
                                    "oui ou non attendu (oui, non, 1, 0, vrai, faux)."))
        else:
            if active is not None:
                values["active"] = active
        try:
            debit = read_direct_debit(cells.get(row, "direct_debit"))
        except ValueError:
            self._not_understood(row, "direct_debit")
        else:
            if debit is not None:
                values["direct_debit"] = debit
        resident = Resident(**{name: value for name, value in values.items() if name != "structure"})
        try:
            resident.clean(offline=True)
        except ValidationError as error:
            problems.extend(item for field, item in zip(error.errors, problems_of(error, row.line, where),
                                                        strict=True) if field not in lacking)
        if problems or lacking:
            return values, problems
        for name in ("external_id", *TEXT_FIELDS):
            values[name] = getattr(resident, name)
        return values, []
