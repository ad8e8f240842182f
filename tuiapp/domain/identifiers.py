"""The association's and the structures' identifiers, and the short lists the forms offer.

Each ``check_*`` takes what was typed and returns it normalised (compact, upper case), or
raises a French ``ValidationError``; an empty value is accepted (the field is not set yet).

- SIRET: 14 digits, Luhn key (python-stdnum ``stdnum.fr.siret``; La Poste's SIRETs, whose
  key is the sum of the digits, pass too).
- IBAN: its country's length and format, and its ISO 7064 key (``stdnum.iban``).
- BIC: 8 or 11 characters: bank (4 letters), country (2 letters), location, branch (``stdnum.bic``).
- FINESS: 9 characters: the département (01 to 95, 2A or 2B for Corsica, 97 or 98 overseas),
  then digits; the 9th is a Luhn key over the 8 before it (checked on AP-HP's 750712184 and
  the CHU de Bordeaux's 330781196). A Corsican number's key is not checked: no published rule
  says how its letter counts.

python-stdnum is imported when a number is checked, not at start-up.
"""

from __future__ import annotations

import re

from tuiapp.domain.errors import ValidationError
from tuiapp.domain.validation import single_line

#: The VAT statements a structure usually prints (its own text is allowed too).
VAT_STATEMENTS = (
    "TVA non applicable, art. 261-7-1°-b du CGI",
    "Hors champ de la TVA, art. 256 B du CGI",
    "TVA non applicable, art. 261-4-1° ter du CGI",
)
#: A guardian's relation to the resident ("" : not said).
GUARDIAN_RELATIONS = ("tuteur", "curateur", "mandataire judiciaire", "famille")
#: The default payment terms offered: days from the issue date to the due date.
PAYMENT_TERMS = {0: "à réception", 15: "sous 15 jours", 30: "sous 30 jours", 45: "sous 45 jours"}

_SEPARATORS = re.compile(r"[\s.\-/]")
_PHONE = re.compile(r"^\+?[0-9 .()\-]{4,30}$")
_WEBSITE = re.compile(r"^(https?://)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+(?:/\S*)?$")
_FINESS = re.compile(r"^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|9[78])[0-9]{7}$")


def _compact(value: str | None, field: str, label: str, max_length: int = 60) -> str:
    return _SEPARATORS.sub("", single_line(value, field=field, label=label, max_length=max_length)).upper()


def check_siret(value: str | None, *, field: str = "siret", label: str = "SIRET") -> str:
    """14 digits with a valid key; stored without spaces."""
    number = _compact(value, field, label)
    if not number:
        return ""
    from stdnum.exceptions import InvalidChecksum
    from stdnum.exceptions import ValidationError as NumberError
    from stdnum.fr import siret

    if not number.isdigit() or len(number) != 14:
        raise ValidationError(field, label, "14 chiffres attendus (ex. 732 829 320 00074).")
    try:
        return siret.validate(number)
    except InvalidChecksum:
        raise ValidationError(field, label, f"la clé de « {number} » est fausse : vérifiez les chiffres.") from None
    except NumberError:
        raise ValidationError(field, label, f"« {number} » n'est pas un SIRET valide.") from None


def check_iban(value: str | None, *, field: str = "iban", label: str = "IBAN") -> str:
    """An IBAN of the right length for its country, with a valid key; stored without spaces."""
    number = _compact(value, field, label)
    if not number:
        return ""
    from stdnum import iban
    from stdnum.exceptions import InvalidChecksum
    from stdnum.exceptions import ValidationError as NumberError

    try:
        return iban.validate(number)
    except InvalidChecksum:
        # The key is checked before the length: a number cut short is said as such, not as a wrong key.
        try:
            iban.validate(number[:2] + iban.calc_check_digits(number) + number[4:])
        except NumberError:
            pass
        else:
            raise ValidationError(field, label, "la clé de l'IBAN est fausse : vérifiez les chiffres.") from None
    except NumberError:
        pass
    raise ValidationError(field, label, "ce n'est pas un IBAN valide (ex. FR76 3000 6000 0112 3456 7890 189).")


def check_bic(value: str | None, *, field: str = "bic", label: str = "BIC") -> str:
    """8 or 11 characters (bank, country, location, branch); stored in upper case."""
    number = _compact(value, field, label)
    if not number:
        return ""
    from stdnum import bic
    from stdnum.exceptions import ValidationError as NumberError

    try:
        return bic.validate(number)
    except NumberError:
        raise ValidationError(field, label, "8 ou 11 caractères : banque, pays, lieu (ex. AGRIFRPP).") from None


def check_finess(value: str | None, *, field: str = "finess", label: str = "N° FINESS") -> str:
    """9 characters beginning with the département (2A, 2B for Corsica); the key of the others."""
    number = _compact(value, field, label)
    if not number:
        return ""
    if len(number) != 9:
        raise ValidationError(field, label, f"9 caractères attendus ({len(number)} saisis), ex. 590000123.")
    if not _FINESS.match(number):
        raise ValidationError(field, label, "il commence par le département (01 à 95, 2A, 2B, 97 ou 98), "
                                            "suivi de 7 chiffres.")
    if number.isdigit():
        from stdnum import luhn

        if not luhn.is_valid(number):
            raise ValidationError(field, label, f"la clé (9e chiffre) de « {number} » est fausse : "
                                                "vérifiez les chiffres.")
    return number


def check_phone(value: str | None, *, field: str = "phone", label: str = "Téléphone") -> str:
    text = single_line(value, field=field, label=label, max_length=30)
    if text and not _PHONE.match(text):
        raise ValidationError(field, label, "des chiffres, espaces, points ou + seulement (ex. 03 20 12 34 56).")
    return text


def check_website(value: str | None, *, field: str = "website", label: str = "Site web") -> str:
    text = single_line(value, field=field, label=label, max_length=253)
    if text and not _WEBSITE.match(text):
        raise ValidationError(field, label, "une adresse de site (ex. www.association.fr).")
    return text


def check_payment_days(value: object, *, field: str = "payment_days", label: str = "Délai de paiement") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 90:
        raise ValidationError(field, label, "un nombre de jours entre 0 (à réception) et 90.")
    return value


def payment_terms(days: int) -> str:
    """The terms in words: "à réception", "sous 15 jours"."""
    return PAYMENT_TERMS.get(days) or f"sous {days} jours"


def _words(text: str | None) -> list[str]:
    """The words of a cell, folded: lower case, no accents, *œ* as *oe*."""
    import unicodedata

    lowered = str(text or "").casefold().replace("œ", "oe").replace("æ", "ae")
    plain = "".join(char for char in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(char))
    return re.findall(r"[^\W_]+", plain)


def _first_match(words: list[str], starts: tuple[tuple[str, object], ...]) -> object | None:
    """The meaning of the first word that begins with one of ``starts`` (word start, meaning; a start
    ending with "=" is a whole word: *mari*, not *Marie*)."""
    for word in words:
        for start, meaning in starts:
            if word == start.rstrip("=") if start.endswith("=") else word.startswith(start):
                return meaning
    return None


#: How the billing software's exports name the relations: the start of a word (folded) and the
#: relation it means; the first word of the cell that has one decides (*Tuteur familial*: tuteur).
_RELATION_STARTS: tuple[tuple[str, object], ...] = (
    *((start, "tuteur") for start in ("tutel", "tuteu", "tutri", "guardian")),
    *((start, "curateur") for start in ("curatel", "curateu", "curatri", "curator")),
    *((start, "mandataire judiciaire") for start in ("mandatair", "mjpm", "udaf")),
    *((start, "famille") for start in (
        "famil", "parent", "proche", "niece", "neveu", "fils", "fille", "frere", "soeur", "epou", "conjoint",
        "mari=", "mere=", "pere=", "enfant", "oncle", "tante", "cousin", "concubin", "compagn", "petit", "beau",
        "belle", "gendre", "bru=", "aieul")),
)


def read_relation(text: str | None) -> str | None:
    """The guardian's relation a cell or a typed text means: one of ``GUARDIAN_RELATIONS``, ""
    for an empty one, None when it is not understood. Read by word start, case and accents
    ignored: *Tutelle*, *Curatelle renforcée*, *MJPM*, *Nièce*, *Fils* are understood."""
    words = _words(text)
    if not words:
        return ""
    meaning = _first_match(words, _RELATION_STARTS)
    return meaning if isinstance(meaning, str) else None


def check_relation(value: str | None, *, field: str = "guardian_relation", label: str = "Lien du tuteur") -> str:
    """One of ``GUARDIAN_RELATIONS`` or "" (other words read as one: *tutelle*, *MJPM*, *nièce* ...)."""
    text = single_line(value, field=field, label=label)
    relation = read_relation(text)
    if relation is None:
        raise ValidationError(field, label, "tuteur, curateur, mandataire judiciaire, famille ou vide.")
    return relation


#: A whole cell that says yes or no (folded).
_YES_WORDS = {"oui", "o", "1", "vrai", "true", "yes", "y", "x"}
_NO_WORDS = {"non", "n", "0", "faux", "false", "no"}
#: How a payment column names the mode: the start of a word (folded), and whether it is a direct
#: debit; the first word of the cell that has one decides (*Virement SEPA*: not a direct debit).
_PAYMENT_STARTS: tuple[tuple[str, object], ...] = (
    *((start, True) for start in ("prelev", "sepa", "debit", "oui", "prlv")),
    *((start, False) for start in ("vir", "cheq", "chq", "check", "espece", "cash", "carte", "cb", "tip",
                                   "transfer", "non", "sans", "aucun")),
)


def read_direct_debit(text: str | None) -> bool | None:
    """Whether a payment cell says the resident pays by direct debit: True, False, or None when
    the cell is empty; ValueError when it is not understood. Yes/no words (*oui*, *non*, 1, 0)
    or the mode, read by word start with case and accents ignored: *Prélèvement SEPA* is a
    direct debit; *Virement bancaire*, *Chèque*, *Espèces*, *Carte bancaire* are not."""
    words = _words(text)
    if not words:
        return None
    whole = "".join(words)
    if whole in _YES_WORDS:
        return True
    if whole in _NO_WORDS:
        return False
    meaning = _first_match(words, _PAYMENT_STARTS)
    if isinstance(meaning, bool):
        return meaning
    raise ValueError(text)
