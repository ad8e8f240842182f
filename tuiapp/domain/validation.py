"""Validation of what operators type: e-mail addresses, amounts, plain text.

Every refusal is a :class:`ValidationError` whose French message names the
field. E-mail addresses are checked for syntax only (no DNS look-up). No text
field accepts a control character (``tuiapp.domain.safe_text.find_control``):
terminal codes, NUL, bidirectional overrides, line separators; a multi-line
text keeps its line feeds and tabs. Every text has a length limit.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from tuiapp.domain.errors import ValidationError
from tuiapp.domain.safe_text import describe_char, find_control

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")

# Length limits, in characters.
NAME_MAX = 200  # names of people, structures, the association; labels
CODE_MAX = 20  # a structure's code
NUMBER_MAX = 40  # an invoice number
SUBJECT_MAX = 250  # a mail subject (template)
EMAIL_MAX = 254  # RFC 5321: a path is 256 octets, angle brackets included
HOST_MAX = 253  # a DNS name
PATH_MAX = 4096  # a file path (Linux PATH_MAX)
ADDRESS_MAX = 500  # a postal address, on a few lines
BODY_MAX = 10_000  # a mail text (template)
_AMOUNT_TEXT = re.compile(r"^[+-]?(\d+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+)(?:[.,](\d+))?$")
# "1.234,56": dots between thousands only with a decimal comma ("1.234" alone is one euro 234).
_DOTTED_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+,\d+$")


def normalize_email(value: str | None, *, field: str, label: str, required: bool = False) -> str | None:
    """Check one address; returns it trimmed (domain in lower case) or ``None`` when empty."""
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationError(field, label, "une adresse e-mail est obligatoire.")
        return None
    if (char := find_control(text)) is not None:
        raise ValidationError(field, label, f"l'adresse contient un caractère interdit ({describe_char(char)}).")
    _refuse_long(text, EMAIL_MAX, field, label)
    # Imported here: its regular expressions take 25 ms to build, at the start of every tuiapp command
    # and of the app, most of which check no address.
    from email_validator import EmailNotValidError, validate_email

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


def _refuse_long(text: str, max_length: int, field: str, label: str) -> None:
    if len(text) > max_length:
        raise ValidationError(field, label, f"{max_length} caractères au plus ({len(text)} saisis).")


def single_line(
    value: str | None, *, field: str, label: str, required: bool = False, max_length: int = NAME_MAX
) -> str:
    """A one-line text (name, code, header value): trimmed, no line break, no control character."""
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(field, label, "ce champ est obligatoire.")
    if (char := find_control(text)) is not None:
        raise ValidationError(
            field, label,
            f"le texte ne doit contenir ni retour à la ligne ni caractère de contrôle ({describe_char(char)}).",
        )
    _refuse_long(text, max_length, field, label)
    return text


def multi_line(
    value: str | None, *, field: str, label: str, max_length: int, strip: bool = True
) -> str:
    """A text of several lines (address, mail text): line feeds and tabs allowed, no
    other control character. Windows line ends (CR LF) become line feeds."""
    text = (value or "").replace("\r\n", "\n")
    if strip:
        text = text.strip()
    if (char := find_control(text, multiline=True)) is not None:
        raise ValidationError(
            field, label, f"le texte ne doit pas contenir de caractère de contrôle ({describe_char(char)})."
        )
    _refuse_long(text, max_length, field, label)
    return text


def check_ca_file(value: str | None, *, field: str = "smtp_ca_file", label: str = "Certificats") -> str | None:
    """A file of certificate authorities (PEM), readable by the TLS library; ``None`` when empty."""
    import ssl
    from pathlib import Path

    text = single_line(value, field=field, label=label, max_length=PATH_MAX)
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


# An export repeats its prices and totals: 450,000 amounts were read in 2.6 s, uncached.
@functools.lru_cache(maxsize=4096)
def _amount_text(value: str) -> Decimal | None:
    """The amount a text writes, unchecked (``None``: not an amount)."""
    text = value.strip().removesuffix("€").strip().replace("\u2212", "-")  # the typographic minus too
    if _DOTTED_THOUSANDS.match(text):
        text = text.replace(".", "")
    if not _AMOUNT_TEXT.match(text):
        return None
    return Decimal(re.sub(r"[ \u00a0\u202f]", "", text).replace(",", "."))


def parse_amount(value: Decimal | int | str, *, field: str = "amount_ht", label: str = "Montant HT") -> Decimal:
    """An amount in euros with at most two decimals, as ``Decimal``.

    Accepts ``Decimal``, ``int`` and text in French or English notation
    (``1 234,56``, ``1234.56``, ``1.234,56``, ``1 234,56 €``). A ``float`` is refused: it cannot hold cents
    exactly.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(field, label, "montant à virgule flottante refusé (utiliser Decimal ou du texte).")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        read = _amount_text(value) if len(value) <= 64 else _amount_text.__wrapped__(value)  # (none kept)
        if read is None:
            raise ValidationError(field, label, f"« {value.strip()} » n'est pas un montant (exemple : 1 234,56).")
        amount = read
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


_DAY_FRENCH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DAY_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_day(value: date | str, *, field: str = "issue_date", label: str = "Date de facture") -> date:
    """A day written ``28/09/2024`` or ``2024-09-28`` (a ``date`` passes as it is)."""
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if match := _DAY_FRENCH.match(text):
        day, month, year = match.groups()
    elif match := _DAY_ISO.match(text):
        year, month, day = match.groups()
    else:
        raise ValidationError(field, label, "date attendue sous la forme JJ/MM/AAAA (ex. 28/09/2024).")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise ValidationError(field, label, "cette date n'existe pas.") from None


_TENANT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250}[A-Za-z0-9])?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def check_tenant(value: str | None, *, field: str = "smtp_oauth_tenant", label: str = "Tenant (annuaire)") -> str:
    """An Entra tenant: its ID (a GUID) or its domain (``association.onmicrosoft.com``); "" when empty."""
    text = single_line(value, field=field, label=label, max_length=HOST_MAX)
    if text and not _TENANT.match(text):
        raise ValidationError(field, label, "l'ID de l'annuaire (xxxxxxxx-xxxx-...) ou son domaine "
                                            "(association.onmicrosoft.com).")
    return text


def check_client_id(value: str | None, *, field: str = "smtp_oauth_client_id",
                    label: str = "ID d'application (client)") -> str:
    """An application (client) ID: a GUID; "" when empty."""
    text = single_line(value, field=field, label=label, max_length=36)
    if text and not _GUID.match(text):
        raise ValidationError(field, label, "un identifiant de la forme xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.")
    return text.lower()


def check_authority(value: str | None, *, field: str = "smtp_oauth_authority",
                    label: str = "Fournisseur d'identité") -> str:
    """The identity provider's address: https only, no path, query or credentials; "" (Microsoft's) when empty."""
    from urllib.parse import urlsplit

    text = single_line(value, field=field, label=label, max_length=HOST_MAX).rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "https" or not parts.hostname or parts.path or parts.query or parts.fragment \
            or parts.username or parts.password or port == -1:
        raise ValidationError(field, label, "une adresse https://hôte (ex. https://login.microsoftonline.com).")
    return text.removesuffix(":443")


def check_certificate_file(value: str | None, *, field: str = "smtp_oauth_certificate",
                           label: str = "Certificat de l'application") -> str | None:
    """A PEM file holding the application's private key and its certificate; ``None`` when empty."""
    from pathlib import Path

    text = single_line(value, field=field, label=label, max_length=PATH_MAX)
    if not text:
        return None
    path = Path(text).expanduser()
    try:
        content = path.read_bytes()[:1_000_000]
    except FileNotFoundError:
        raise ValidationError(field, label, f"fichier introuvable : {text}") from None
    except OSError as exc:
        raise ValidationError(field, label, f"lecture impossible de {text} ({exc.strerror}).") from None
    if b"PRIVATE KEY-----" not in content or b"-----BEGIN CERTIFICATE-----" not in content:
        raise ValidationError(field, label, f"« {text} » doit contenir la clé privée et le certificat (PEM).")
    return str(path.resolve())
