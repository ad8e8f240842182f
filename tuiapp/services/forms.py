"""Checking and saving what an operator typed in a form, field by field.

The screens (and any other front end) hand over plain text values. The rules
are the models' own (``clean()``): this module only reads the text (a number,
a choice, a switch), asks the model, and gives back every problem at once,
keyed by field, in French, so that a form can show each message beside its
field. Saving happens only when there is none, in one transaction: never
half-written data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tuiapp.db.clean_model import CleanModel
from tuiapp.db.database import db
from tuiapp.db.models import Association, Resident, Structure
from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.validation import check_ca_file, check_certificate_file

Errors = dict[str, str]

STRUCTURE_FIELDS = ("code", "name", "address", "finess", "vat_statement", "billing_contact", "sender_email",
                    "sender_name", "reply_to", "bcc", "subject_template", "body_template")
RESIDENT_FIELDS = ("last_name", "first_name", "external_id", "structure", "address", "email", "direct_debit",
                   "guardian_name", "guardian_relation", "guardian_address", "guardian_email", "active")
ASSOCIATION_FIELDS = ("name", "address", "siret", "phone", "email", "website", "iban", "bic", "cheque_payee",
                      "payment_days")
#: Said when a structure is saved without a sender: its invoices cannot be mailed.
NO_SENDER = ("La structure {code} n'a pas d'adresse d'expéditeur (onglet Mail) : ses factures ne pourront pas "
             "être envoyées par mail tant qu'elle n'est pas renseignée.")
SMTP_FIELDS = ("smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_rate_per_minute", "smtp_ca_file",
               "smtp_auth_method", "smtp_oauth_tenant", "smtp_oauth_client_id", "smtp_oauth_certificate",
               "smtp_oauth_authority", "smtp_allow_insecure_auth")
#: What OAuth 2.0 cannot do without (the mailbox is the identifier), each with what to type.
OAUTH_REQUIRED = {
    "smtp_username": "la boîte d'envoi (adresse Office 365), obligatoire avec OAuth 2.0.",
    "smtp_oauth_tenant": "obligatoire avec OAuth 2.0 : l'ID de l'annuaire Entra (ou son domaine).",
    "smtp_oauth_client_id": "obligatoire avec OAuth 2.0 : l'ID d'application de l'inscription Entra.",
}


def _number(text: object) -> object:
    """A whole number typed in a field; anything else is left for the model to refuse."""
    text = str(text if text is not None else "").strip()
    return int(text) if text.isdecimal() and text.isascii() and len(text) < 10 else text


def _row_id(text: object) -> int | None:
    """The id a list of choices gives (text); none when nothing is chosen."""
    number = _number(text)
    return number if isinstance(number, int) else None


def switch(value: object) -> bool:
    """A checkbox's value as a form gives it (a bool, or its text): "", "0", "False", "false" and None
    are off. The one reading of a switch: the forms' services, and the SMTP window's checks."""
    return value is not None and str(value) not in ("", "0", "False", "false")


def _read(form: Mapping[str, object], fields: tuple[str, ...],
          readers: Mapping[str, Callable[[object], object]] | None = None) -> dict[str, object]:
    """The form's values of ``fields`` (those it holds), each read by its reader (text as typed by default)."""
    readers = readers or {}
    return {name: readers.get(name, lambda value: value)(form[name]) for name in fields if name in form}


def _copy(model: type[CleanModel], row: CleanModel | None) -> CleanModel:
    """An unsaved copy of ``row`` (a new row if none), to be checked without touching it."""
    return model(**row.__data__) if row is not None else model()


def _check(draft: Any, values: Mapping[str, object], fields: tuple[str, ...]) -> tuple[dict[str, Any], Errors]:
    """The model's verdict on ``values``: the clean ones, and the problems of the form's ``fields``.

    A problem in a field that the form does not show (a row written around the
    checks) is not the operator's to fix here: saving reports it.
    """
    for name, value in values.items():
        setattr(draft, name, value)
    errors: Errors = {}
    try:
        draft.clean()
    except ValidationError as exc:
        errors = {name: message for name, message in exc.errors.items() if name in fields}
    return {name: draft.__data__.get(name) for name in values if name not in errors}, errors


def _save(target: Any, values: Mapping[str, object]):
    """Write the values in one transaction; the model refuses them with every problem at once."""
    before = dict(target.__data__), dict(target.__rel__), set(target._dirty)
    try:
        with db.atomic():
            for name, value in values.items():
                setattr(target, name, value)
            target.save()
    except BaseException:
        # Refused (invalid, a locked or read-only base ...): the object in memory stays what the database holds.
        target.__data__, target.__rel__, target._dirty = before
        raise
    return target


def _structure_values(form: Mapping[str, object]) -> dict[str, object]:
    return _read(form, STRUCTURE_FIELDS)


def check_structure(form: Mapping[str, object], structure: Structure | None = None) -> tuple[dict[str, Any], Errors]:
    """The structure form's values, cleaned, and its problems by field."""
    return _check(_copy(Structure, structure), _structure_values(form), STRUCTURE_FIELDS)


def save_structure(form: Mapping[str, object], structure: Structure | None = None) -> Structure:
    return _save(structure or Structure(), _structure_values(form))


def sender_warning(structure: Structure) -> str | None:
    """What to tell whoever saved ``structure`` about mailing its invoices (None: nothing)."""
    return None if structure.has_sender else NO_SENDER.format(code=structure.code)


def _resident_values(form: Mapping[str, object]) -> dict[str, object]:
    return _read(form, RESIDENT_FIELDS, {"structure": _row_id, "active": switch, "direct_debit": switch})


def check_resident(form: Mapping[str, object], resident: Resident | None = None) -> tuple[dict[str, Any], Errors]:
    """The resident form's values, cleaned, and its problems by field."""
    return _check(_copy(Resident, resident), _resident_values(form), RESIDENT_FIELDS)


def save_resident(form: Mapping[str, object], resident: Resident | None = None) -> Resident:
    return _save(resident or Resident(), _resident_values(form))


def _association_values(form: Mapping[str, object]) -> dict[str, object]:
    return _read(form, ASSOCIATION_FIELDS, {"payment_days": _number})


def check_association(form: Mapping[str, object]) -> tuple[dict[str, Any], Errors]:
    """The Association window's values, cleaned, and its problems by field."""
    return _check(_copy(Association, Association.get_solo()), _association_values(form), ASSOCIATION_FIELDS)


def save_association(form: Mapping[str, object]) -> Association:
    """Write the association's details in one transaction (its mail server is left as it is)."""
    with db.atomic():
        return _save(Association.get_solo(), _association_values(form))


def check_application_certificate(value: str | None, *, field: str = "smtp_oauth_certificate",
                                  label: str = "Certificat de l'application") -> str | None:
    """The application's PEM file, as the token source will read it (an RSA key without a passphrase,
    and its certificate): its full path, or ``None`` when empty; a French ``ValidationError`` otherwise.
    The one check of the SMTP window and of ``tuiapp smtp set --certificate`` (both modes)."""
    from tuiapp.mail.identity import application_certificate
    from tuiapp.mail.identity_problems import CertificateUnreadable

    path = check_certificate_file(value, field=field, label=label)
    if path is not None:
        try:
            application_certificate(path)
        except CertificateUnreadable as problem:
            raise ValidationError(field, label, problem.sentence()) from None
    return path


def check_smtp(form: Mapping[str, object]) -> tuple[dict[str, Any], Errors]:
    """The SMTP modal's values (the password is not among them: it goes to the keyring).

    Besides the model's rules, the certificate files must be readable here, on
    this workstation (the database, shared, cannot tell): the authorities'
    (``smtp_ca_file``) always, the application's (``smtp_oauth_certificate``)
    with the method that uses it. An OAuth method needs the mailbox, the
    tenant and the application.
    """
    typed = _read(form, SMTP_FIELDS, {"smtp_port": _number, "smtp_rate_per_minute": _number,
                                      "smtp_allow_insecure_auth": switch})
    values, errors = _check(_copy(Association, Association.get_solo()), typed, SMTP_FIELDS)
    files = [("smtp_ca_file", check_ca_file)]
    if values.get("smtp_auth_method") == AuthMethod.OAUTH2_APP:
        files.append(("smtp_oauth_certificate", check_application_certificate))
    for name, check in files:
        if name in values:
            try:
                values[name] = check(values[name])
            except ValidationError as exc:
                del values[name]
                errors[exc.field] = exc.message
    if values.get("smtp_auth_method") in (AuthMethod.OAUTH2_APP, AuthMethod.OAUTH2_DEVICE):
        for name, message in OAUTH_REQUIRED.items():
            if name in values and not values[name]:
                del values[name]
                errors[name] = message
    return values, errors


def save_smtp(values: Mapping[str, object]) -> dict[str, object]:
    """Write the SMTP settings (checked by ``check_smtp``) in one transaction; returns the values they replaced.

    Saving them again undoes the change (the SMTP window does, when the keyring
    then refuses the password).
    """
    with db.atomic():
        association = Association.get_solo()
        previous = {field: getattr(association, field) for field in values}
        _save(association, values)
    return previous
