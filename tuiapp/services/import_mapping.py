"""Which column of an export holds which field: synonyms, ``--map``, saved profiles.

A header is matched against each field's French and English synonyms once
folded: case, accents, punctuation and extra spaces ignored, ``N°``, ``No``,
``num.`` and ``numéro`` read alike, little words (*de*, *du*, *la*...) left out.
So *N° de résident*, *numéro résident* and *No. Résident* all name ``external_id``.

A mapping is ``{field name: column index}``. ``guess_mapping`` makes one from the
headers; ``explicit_mapping`` from ``--map`` (``{header: field}``), the columns it
does not name being guessed as before (``colonne=-`` leaves a column out).
``mapping_problems`` tells what a mapping lacks (a required column, a field two
columns claim): a refusal of the file (exit 1), whereas a bad ``--map`` is a
usage error (``ImportUsageError``, exit 2).
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tuiapp.domain.errors import TuiappError
from tuiapp.domain.safe_text import printable
from tuiapp.services.import_report import Problem

KINDS = ("residents", "invoices")
IGNORED = "-"  # ``--map "Colonne=-"``: the column is not imported
PROFILE_NAME_MAX = 80


class ImportUsageError(TuiappError):
    """The mapping asked for cannot be used (unknown column or field, unreadable --map, unknown
    profile): a usage error, exit 2 in the CLI. French message."""


@dataclass(frozen=True)
class ImportField:
    name: str  # as in --map: "external_id"
    label: str  # French, as shown: "N° résident"
    synonyms: tuple[str, ...]  # headers that name it (matched folded)
    required: bool = False


_RESIDENTS = (
    ImportField("external_id", "N° résident",
                ("n° résident", "numéro résident", "id résident", "identifiant résident", "matricule",
                 "resident id", "resident number", "code résident", "référence résident", "réf résident"),
                required=True),
    ImportField("structure", "Structure",
                ("structure", "code structure", "nom structure", "établissement", "etablissement", "site",
                 "facility")),  # required of a new resident only (import_residents)
    ImportField("last_name", "Nom", ("nom", "nom de famille", "nom résident", "last name", "surname",
                                     "family name", "name")),  # idem
    ImportField("first_name", "Prénom", ("prénom", "prénom résident", "first name", "given name", "firstname")),
    ImportField("email", "Courriel du résident",
                ("courriel", "e-mail", "email", "mail", "email résident", "courriel résident", "mail résident",
                 "adresse e-mail", "adresse mail")),
    ImportField("guardian_name", "Nom du tuteur",
                ("tuteur", "nom tuteur", "représentant légal", "nom représentant légal", "guardian",
                 "guardian name")),
    ImportField("guardian_email", "Courriel du tuteur",
                ("mail tuteur", "courriel tuteur", "e-mail tuteur", "email tuteur", "guardian email",
                 "guardian e-mail", "mail représentant légal", "courriel représentant légal")),
    ImportField("address", "Adresse du résident",
                ("adresse", "adresse résident", "adresse postale", "adresse postale résident", "address",
                 "postal address", "resident address")),
    ImportField("guardian_relation", "Lien du tuteur",
                # Not "lien", "relation" or "mesure" alone: other exports use them for other things.
                ("lien tuteur", "lien avec résident", "qualité tuteur", "mesure de protection", "type mesure",
                 "type mesure protection", "lien représentant légal", "guardian relation",
                 "guardian relationship")),
    ImportField("guardian_address", "Adresse du tuteur",
                ("adresse tuteur", "adresse postale tuteur", "adresse représentant légal", "guardian address",
                 "guardian postal address")),
    ImportField("direct_debit", "Prélèvement",
                # Not "règlement" alone (a date, an amount paid...).
                ("prélèvement", "prélèvement automatique", "mode de paiement", "mode de règlement",
                 "direct debit", "payment method")),
    ImportField("active", "Actif", ("actif", "active", "présent", "en activité")),
)

_INVOICES = (
    ImportField("number", "N° facture",
                ("n° facture", "numéro facture", "facture", "invoice number", "invoice", "n° pièce",
                 "numéro pièce", "pièce", "référence facture"), required=True),
    ImportField("resident", "N° résident",
                ("n° résident", "numéro résident", "id résident", "identifiant résident", "matricule",
                 "resident id", "resident number", "code résident", "référence résident", "réf résident"),
                required=True),
    ImportField("period", "Période", ("période", "mois", "period", "période facturée", "mois facturé", "month"),
                required=True),
    ImportField("issue_date", "Date de facture",
                ("date facture", "date", "invoice date", "date émission", "date pièce"), required=True),
    ImportField("amount_ht", "Montant HT",
                ("montant ht", "total ht", "amount", "montant total", "total", "amount ht", "total amount",
                 "montant facture", "net ht")),
    ImportField("kind", "Type de document", ("type", "nature", "type document", "type pièce", "kind",
                                             "document type")),
    ImportField("line_label", "Libellé", ("libellé", "désignation", "libellé ligne", "label", "description",
                                          "line label")),
    ImportField("line_quantity", "Quantité", ("quantité", "qté", "qte", "jours", "nombre jours", "quantity",
                                              "qty")),
    ImportField("line_unit_price", "Prix unitaire", ("prix unitaire", "pu", "p u", "tarif", "unit price",
                                                     "prix", "tarif journalier")),
    ImportField("line_amount", "Montant de la ligne", ("montant ligne", "montant", "total ligne",
                                                       "line amount", "montant ht ligne")),
)

#: The line fields of an invoice file: any of them makes it a file of one row per line.
LINE_FIELDS = ("line_label", "line_quantity", "line_unit_price", "line_amount")

_FIELDS = {"residents": _RESIDENTS, "invoices": _INVOICES}
#: What each kind of import brings, in a French sentence ("les factures").
KIND_WORDS = {"residents": "résidents", "invoices": "factures", "pdfs": "PDF"}

# "N°", "No", "num.", "numéro", "nº" (folded to "no"), "#": one word.
_NUMBER_WORDS = {"n", "no", "nr", "nro", "num", "numero", "number", "nb", "#"}
_LITTLE_WORDS = {"de", "du", "des", "d", "la", "le", "les", "l", "of", "the", "a"}
_WORD = re.compile(r"#|[^\W_]+")


def fold_header(text: str) -> str:
    """A header as compared: folded, punctuation and little words gone, number words alike."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = [("numero" if word in _NUMBER_WORDS else word) for word in _WORD.findall(plain)]
    return "".join(word for word in words if word not in _LITTLE_WORDS)


def fields_for(kind: str) -> tuple[ImportField, ...]:
    try:
        return _FIELDS[kind]
    except KeyError:
        raise ImportUsageError(f"Type d'import inconnu : {printable(kind)} (résidents ou factures).") from None


@functools.cache
def _synonym_index(kind: str) -> dict[str, str]:
    """Folded synonym -> field name (made once per kind; not to be changed by callers)."""
    index: dict[str, str] = {}
    for item in fields_for(kind):
        for text in (item.name, item.label, *item.synonyms):
            index.setdefault(fold_header(text), item.name)
    return index


def _matches(headers: Sequence[str], kind: str) -> dict[str, list[int]]:
    """Field name -> the columns whose header names it, in file order."""
    index = _synonym_index(kind)
    found: dict[str, list[int]] = {}
    for column, header in enumerate(headers):
        name = index.get(fold_header(header))
        if name is not None:
            found.setdefault(name, []).append(column)
    return found


def _settle(mapping: dict[str, int], kind: str, fixed: Iterable[str] = ()) -> dict[str, int]:
    """Guesses that only make sense together, in an invoice file: a lone "Montant" column (no other
    line column) is the invoice's total, not a line's; a label or a quantity without a line amount
    nor a unit price makes no line (a "Désignation" beside the total describes the invoice): left out.
    What ``--map`` said (``fixed``) stays."""
    if kind != "invoices":
        return mapping
    if "amount_ht" not in mapping and "line_amount" not in fixed and set(mapping) & set(LINE_FIELDS) == {
            "line_amount"}:
        mapping["amount_ht"] = mapping.pop("line_amount")
    if "line_amount" not in mapping and "line_unit_price" not in mapping:
        for name in ("line_label", "line_quantity"):
            if name not in fixed:
                mapping.pop(name, None)
    return mapping


def _guessed(headers: Sequence[str], kind: str) -> dict[str, int]:
    return {name: columns[0] for name, columns in _matches(headers, kind).items() if len(columns) == 1}


def guess_mapping(headers: Sequence[str], kind: str) -> dict[str, int]:
    """Field name -> column index, from the headers' names. A field that two columns name is
    left out (``mapping_problems`` says which): the file must say which one with ``--map``."""
    return _settle(_guessed(headers, kind), kind)


def field_named(kind: str, text: str) -> ImportField:
    """The field that ``text`` names: its name (``external_id``), its label or one of its synonyms."""
    by_name = {item.name: item for item in fields_for(kind)}
    if text.strip() in by_name:
        return by_name[text.strip()]
    name = _synonym_index(kind).get(fold_header(text))
    if name is None or not fold_header(text):
        known = ", ".join(item.name for item in fields_for(kind))
        raise ImportUsageError(f"--map : champ inconnu « {printable(text.strip())} » pour un import de "
                               f"{KIND_WORDS[kind]} (champs : {known}).")
    return by_name[name]


def _column_of(headers: Sequence[str], header: str) -> int:
    exact = [column for column, text in enumerate(headers) if text.strip() == header.strip()]
    if not exact:
        exact = [column for column, text in enumerate(headers) if fold_header(text) == fold_header(header)]
    shown = printable(header.strip())
    if not exact:
        columns = ", ".join(f"« {printable(text)} »" for text in headers)
        raise ImportUsageError(f"--map : la colonne « {shown} » n'est pas dans le fichier (colonnes : {columns}).")
    if len(exact) > 1:
        raise ImportUsageError(f"--map : le fichier a plusieurs colonnes « {shown} » ; renommez-les.")
    return exact[0]


def explicit_mapping(headers: Sequence[str], kind: str, spec: dict[str, str]) -> dict[str, int]:
    """``spec`` ({header: field}, ``-`` to leave a column out) applied to ``headers``; the
    columns and fields it does not name are guessed. Raises ``ImportUsageError``."""
    chosen: dict[str, int] = {}
    named: set[int] = set()
    for header, target in spec.items():
        column = _column_of(headers, header)
        named.add(column)
        if target.strip() in ("", IGNORED):
            continue
        item = field_named(kind, target)
        if item.name in chosen:
            raise ImportUsageError(f"--map : le champ {item.name} est donné à deux colonnes "
                                   f"(« {printable(headers[chosen[item.name]])} » et « {printable(header)} »).")
        chosen[item.name] = column
    fixed = set(chosen)
    rest = [header if column not in named else "" for column, header in enumerate(headers)]
    for name, column in _guessed(rest, kind).items():
        chosen.setdefault(name, column)
    return _settle(chosen, kind, fixed)


def mapping_problems(headers: Sequence[str], kind: str, mapping: dict[str, int]) -> list[Problem]:
    """What makes the file unusable under ``mapping``: a required field without a column, a field
    that several unmapped columns name. Each a ``Problem`` of line 0 (the file)."""
    used = set(mapping.values())
    found = _matches(headers, kind)
    problems = []
    for item in fields_for(kind):
        if item.name in mapping:
            continue
        candidates = [column for column in found.get(item.name, ()) if column not in used]
        if len(candidates) > 1:
            names = " et ".join(f"« {headers[column]} »" for column in candidates)
            problems.append(Problem(0, headers[candidates[0]], "",
                                    f"les colonnes {names} peuvent toutes être le champ {item.label} : "
                                    "dites laquelle l'est."))
        elif item.required:
            problems.append(Problem(0, item.label, "", f"colonne obligatoire absente (champ {item.name}) : "
                                    "désignez-la si elle porte un autre nom."))
    return problems


def describe_mapping(headers: Sequence[str], kind: str, mapping: dict[str, int]) -> list[str]:
    """``Colonne -> Champ`` for each mapped column, in file order, then the columns left out."""
    labels = {item.name: item.label for item in fields_for(kind)}
    by_column = {column: name for name, column in mapping.items()}
    lines = [f"{headers[column]} -> {labels[by_column[column]]} ({by_column[column]})"
             for column in sorted(by_column) if column < len(headers)]
    ignored = [header for column, header in enumerate(headers) if column not in by_column and header.strip()]
    if ignored:
        lines.append("non importées : " + ", ".join(ignored))
    return lines


# --map


def parse_map_option(value: str) -> dict[str, str]:
    """``--map``: ``"colonne=champ,…"`` or a TOML file (``"colonne" = "champ"`` lines, at the top or
    under ``[map]``). Returns {header: field}; raises ``ImportUsageError``."""
    text = value.strip()
    if text.lower().endswith(".toml") and "=" not in text:
        return _read_toml(Path(text).expanduser())
    spec: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        header, equals, target = item.rpartition("=")
        if not equals or not header.strip():
            raise ImportUsageError(f"--map : « {printable(item.strip())} » n'est pas de la forme colonne=champ.")
        _add(spec, header.strip(), target.strip())
    if not spec:
        raise ImportUsageError("--map : aucune colonne donnée (forme : \"colonne=champ,colonne=champ\").")
    return spec


def _add(spec: dict[str, str], header: str, target: str) -> None:
    if header in spec:
        raise ImportUsageError(f"--map : la colonne « {printable(header)} » est donnée deux fois.")
    spec[header] = target


def _read_toml(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportUsageError(f"--map : « {printable(path)} » ne peut pas être lu "
                               f"({exc.strerror or type(exc).__name__}).") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ImportUsageError(f"--map : « {printable(path)} » n'est pas un fichier TOML valide "
                               f"({printable(exc)}).") from None
    table = data.get("map", data) if isinstance(data.get("map"), dict) else data
    spec: dict[str, str] = {}
    for header, target in table.items():
        if not isinstance(target, str):
            raise ImportUsageError(f"--map : dans « {printable(path)} », la colonne « {printable(header)} » "
                                   "doit recevoir un nom de champ entre guillemets.")
        _add(spec, header.strip(), target.strip())
    if not spec:
        raise ImportUsageError(f"--map : « {printable(path)} » ne donne aucune colonne.")
    return spec


# Profiles


def _profile_name(name: str) -> str:
    from tuiapp.domain.errors import ValidationError
    from tuiapp.domain.validation import single_line

    try:
        return single_line(name, field="profile", label="Profil", required=True, max_length=PROFILE_NAME_MAX)
    except ValidationError as exc:
        raise ImportUsageError(f"--profile : {exc.message}") from None


def save_profile(name: str, kind: str, spec: dict[str, str]) -> None:
    """Saves (or replaces) the mapping ``spec`` ({header: field}) as profile ``name`` for ``kind``."""
    from tuiapp.db.database import write_transaction
    from tuiapp.db.fields import utcnow
    from tuiapp.db.import_models import ImportProfile

    name = _profile_name(name)
    for target in spec.values():
        if kind in _FIELDS and target.strip() not in ("", IGNORED):
            field_named(kind, target)
    text = json.dumps(spec, ensure_ascii=False, sort_keys=True)
    with write_transaction():
        profile = ImportProfile.get_or_none((ImportProfile.name == name) & (ImportProfile.kind == kind))
        if profile is None:
            ImportProfile.create(name=name, kind=kind, mapping=text)
        elif profile.mapping != text:
            profile.mapping, profile.updated_at = text, utcnow()
            profile.save()


def load_profile(name: str, kind: str) -> dict[str, str] | None:
    """The mapping saved as ``name`` for ``kind``, or None."""
    from tuiapp.db.import_models import ImportProfile

    profile = ImportProfile.get_or_none((ImportProfile.name == name.strip()) & (ImportProfile.kind == kind))
    if profile is None:
        return None
    try:
        data = json.loads(profile.mapping)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ImportUsageError(f"Le profil « {printable(name)} » est illisible : enregistrez-le à nouveau "
                               "avec --map.")
    return data


def profile_names(kind: str) -> list[str]:
    from tuiapp.db.import_models import ImportProfile

    query = ImportProfile.select(ImportProfile.name).where(ImportProfile.kind == kind).order_by(ImportProfile.name)
    return [profile.name for profile in query]


def unknown_profile(name: str, kind: str) -> ImportUsageError:
    listed = ", ".join(profile_names(kind)) or "aucun"
    return ImportUsageError(f"--profile : profil « {printable(name)} » inconnu pour les {KIND_WORDS[kind]} "
                            f"(profils enregistrés : {listed}). Donnez --map pour l'enregistrer.")
