"""Checking and saving what an operator typed in a form, field by field.

The screens (and any other front end) hand over plain text values; every
problem comes back at once, keyed by field, in French, so that a form can show
each message beside its field. Saving happens only when there is none, in one
transaction: never half-written data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tuiapp.domain import templates
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.validation import (
    ADDRESS_MAX,
    BODY_MAX,
    CODE_MAX,
    HOST_MAX,
    SUBJECT_MAX,
    check_ca_file,
    multi_line,
    normalize_email,
    single_line,
)
from tuiapp.db.database import db
from tuiapp.db.models import Association, Resident, Structure

Errors = dict[str, str]


def _collect(checks: Mapping[str, Callable[[], object]]) -> tuple[dict[str, object], Errors]:
    values, errors = {}, {}
    for field, check in checks.items():
        try:
            values[field] = check()
        except ValidationError as exc:
            errors[field] = exc.message
    return values, errors


def _template_check(text: str, field: str, label: str, *, single: bool) -> Callable[[], str]:
    def check() -> str:
        if single:
            value = single_line(text, field=field, label=label, max_length=SUBJECT_MAX)
        else:
            value = multi_line(text, field=field, label=label, max_length=BODY_MAX, strip=False)
        unknown = templates.find_unknown_keywords(value)
        if unknown:
            message = "; ".join(u.message for u in unknown)
            raise ValidationError(field, label, message if message.endswith("?") else message + ".")
        return value

    return check


def check_structure(form: Mapping[str, str], structure: Structure | None = None) -> tuple[dict, Errors]:
    """The structure form's values, cleaned, and its problems by field."""
    values, errors = _collect(
        {
            "code": lambda: single_line(form.get("code"), field="code", label="Code", required=True,
                                        max_length=CODE_MAX).upper(),
            "name": lambda: single_line(form.get("name"), field="name", label="Nom", required=True),
            "address": lambda: multi_line(form.get("address"), field="address", label="Adresse",
                                          max_length=ADDRESS_MAX),
            "sender_email": lambda: normalize_email(form.get("sender_email"), field="sender_email", label="Adresse"),
            "sender_name": lambda: single_line(form.get("sender_name"), field="sender_name", label="Nom"),
            "reply_to": lambda: normalize_email(form.get("reply_to"), field="reply_to", label="Réponse"),
            "bcc": lambda: normalize_email(form.get("bcc"), field="bcc", label="Copie"),
            "subject_template": _template_check(form.get("subject_template", ""), "subject_template", "Objet", single=True),
            "body_template": _template_check(form.get("body_template", ""), "body_template", "Texte", single=False),
        }
    )
    code = values.get("code")
    if code and Structure.select().where(
        (Structure.code == code) & (Structure.id != (structure.id if structure else -1))
    ).exists():
        errors["code"] = f"le code « {code} » est déjà pris."
    return values, errors


def _save(target, values: dict, errors: Errors):
    """Write the checked values in one transaction, or refuse with the first problem."""
    if errors:
        field, message = next(iter(errors.items()))
        raise ValidationError(field, field, message)
    before = dict(target.__data__), dict(target.__rel__), set(target._dirty)
    try:
        with db.atomic():
            for field, value in values.items():
                setattr(target, field, value)
            target.save()
    except BaseException:
        # Refused (a locked or read-only base ...): the object in memory stays what the database holds.
        target.__data__, target.__rel__, target._dirty = before
        raise
    return target


def save_structure(form: Mapping[str, str], structure: Structure | None = None) -> Structure:
    return _save(structure or Structure(), *check_structure(form, structure))


def check_resident(form: Mapping[str, str]) -> tuple[dict, Errors]:
    values, errors = _collect(
        {
            "last_name": lambda: single_line(form.get("last_name"), field="last_name", label="Nom", required=True),
            "first_name": lambda: single_line(form.get("first_name"), field="first_name", label="Prénom"),
            "email": lambda: normalize_email(form.get("email"), field="email", label="Courriel"),
            "guardian_name": lambda: single_line(form.get("guardian_name"), field="guardian_name", label="Tuteur"),
            "guardian_email": lambda: normalize_email(form.get("guardian_email"), field="guardian_email", label="Courriel"),
        }
    )
    structure_id = form.get("structure")
    if not structure_id or Structure.get_or_none(Structure.id == int(structure_id)) is None:
        errors["structure"] = "choisissez une structure."
    else:
        values["structure"] = int(structure_id)
    values["active"] = str(form.get("active", "1")) not in ("", "0", "False", "false")
    return values, errors


def save_resident(form: Mapping[str, str], resident: Resident | None = None) -> Resident:
    return _save(resident or Resident(), *check_resident(form))


def check_smtp(form: Mapping[str, str]) -> tuple[dict, Errors]:
    """The SMTP modal's values (the password is not among them: it goes to the keyring)."""

    def integer(field: str, label: str, low: int, high: int) -> Callable[[], int]:
        def check() -> int:
            text = (form.get(field) or "").strip()
            if not text.isdigit() or not low <= int(text) <= high:
                raise ValidationError(field, label, f"un nombre entre {low} et {high}.")
            return int(text)

        return check

    def security() -> str:
        value = form.get("smtp_security") or "starttls"
        if value not in ("starttls", "ssl", "none"):
            raise ValidationError("smtp_security", "Sécurité", "STARTTLS, SSL ou aucune.")
        return value

    def ca_file() -> str | None:
        return check_ca_file(form.get("smtp_ca_file"))

    return _collect(
        {
            "smtp_host": lambda: single_line(form.get("smtp_host"), field="smtp_host", label="Serveur", required=True,
                                             max_length=HOST_MAX),
            "smtp_port": integer("smtp_port", "Port", 1, 65535),
            "smtp_security": security,
            "smtp_username": lambda: single_line(form.get("smtp_username"), field="smtp_username", label="Identifiant"),
            "smtp_rate_per_minute": integer("smtp_rate_per_minute", "Débit", 0, 10_000),
            "smtp_ca_file": ca_file,
        }
    )


def save_smtp(values: Mapping[str, object]) -> dict[str, object]:
    """Write the SMTP settings in one transaction; returns the values they replaced.

    Saving them again undoes the change (the SMTP window does, when the keyring
    then refuses the password).
    """
    with db.atomic():
        association = Association.get_solo()
        previous = {field: getattr(association, field) for field in values}
        _save(association, dict(values), {})
    return previous
