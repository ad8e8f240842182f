"""Validation of what operators type: e-mail addresses, amounts, plain text.

Every refusal is a :class:`ValidationError` whose French message names the
field. E-mail addresses are checked for syntax only (no DNS look-up).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email

from tuiapp.core.errors import ValidationError

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AMOUNT_TEXT = re.compile(r"^[+-]?(\d+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+)(?:[.,](\d+))?$")


def normalize_email(value: str | None, *, field: str, label: str, required: bool = False) -> str | None:
    """Check one address; returns it trimmed (domain in lower case) or ``None`` when empty."""
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationError(field, label, "une adresse e-mail est obligatoire.")
        return None
    if _CONTROL.search(text):
        raise ValidationError(field, label, "l'adresse contient un caractère interdit (retour à la ligne ?).")
    try:
        # Internationalised local parts (SMTPUTF8) are refused: many servers reject them.
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValidationError(
            field, label, f"« {text} » n'est pas une adresse e-mail valide (exemple : prenom.nom@domaine.fr)."
        ) from None
    return result.normalized


def distinct_addresses(*addresses: str | None) -> list[str]:
    """The addresses given, blanks removed, each once (case ignored), in order."""
    seen: set[str] = set()
    result = []
    for address in addresses:
        address = (address or "").strip()
        if address and address.casefold() not in seen:
            seen.add(address.casefold())
            result.append(address)
    return result


def single_line(value: str | None, *, field: str, label: str, required: bool = False, max_length: int = 200) -> str:
    """A one-line text (name, code, header value): trimmed, no line breaks."""
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(field, label, "ce champ est obligatoire.")
    if _CONTROL.search(text):
        raise ValidationError(field, label, "le texte ne doit pas contenir de retour à la ligne ni de tabulation.")
    if len(text) > max_length:
        raise ValidationError(field, label, f"{max_length} caractères au plus ({len(text)} saisis).")
    return text


def check_ca_file(value: str | None, *, field: str = "smtp_ca_file", label: str = "Certificats") -> str | None:
    """A file of certificate authorities (PEM), readable by the TLS library; ``None`` when empty."""
    import ssl
    from pathlib import Path

    text = (value or "").strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValidationError(field, label, f"fichier introuvable : {text}")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        raise ValidationError(field, label, f"« {text} » n'est pas un fichier de certificats (PEM).") from None
    return str(path.resolve())


def parse_amount(value: Decimal | int | str, *, field: str = "amount_ht", label: str = "Montant HT") -> Decimal:
    """An amount in euros with at most two decimals, as ``Decimal``.

    Accepts ``Decimal``, ``int`` and text in French or English notation
    (``1 234,56``, ``1234.56``). A ``float`` is refused: it cannot hold cents
    exactly.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(field, label, "montant à virgule flottante refusé (utiliser Decimal ou du texte).")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip().removesuffix("€").strip()
        match = _AMOUNT_TEXT.match(text)
        if not match:
            raise ValidationError(field, label, f"« {value.strip()} » n'est pas un montant (exemple : 1 234,56).")
        normalized = re.sub(r"[ \u00a0\u202f]", "", text).replace(",", ".")
        amount = Decimal(normalized)
    else:
        raise ValidationError(field, label, "montant illisible.")
    if not amount.is_finite():
        raise ValidationError(field, label, "montant illisible.")
    try:
        quantized = amount.quantize(CENT)
    except InvalidOperation:
        raise ValidationError(field, label, "montant trop grand.") from None
    if quantized != amount:
        raise ValidationError(field, label, "deux décimales au plus (les centimes).")
    if abs(quantized) > MAX_AMOUNT:
        raise ValidationError(field, label, "montant trop grand.")
    return quantized
